//! Item 10: static files. Dotfiles (`/.env`) and files that symbolic links lead to outside
//! `public_dir` were served. Both are refused (404) by default; `public_dotfiles` and
//! `public_outside_links` allow them.

use crate::common::{http_async, settings, start};
use scgate::config::Settings;

#[tokio::test]
async fn dotfiles_and_links_out_of_the_public_folder_are_not_served() {
    let root = tempfile::tempdir().unwrap();
    let public = root.path().join("public");
    std::fs::create_dir_all(public.join(".git")).unwrap();
    std::fs::write(public.join("index.html"), "<h1>hello</h1>").unwrap();
    std::fs::write(public.join(".env"), "SECRET=hunter2").unwrap();
    std::fs::write(public.join(".git/config"), "[remote]").unwrap();
    std::fs::write(root.path().join("private.key"), "-----BEGIN KEY").unwrap();
    std::os::unix::fs::symlink(root.path().join("private.key"), public.join("key.txt")).unwrap();
    std::os::unix::fs::symlink(public.join("index.html"), public.join("home.html")).unwrap();
    let dir = public.to_string_lossy().into_owned();

    let server = start(Settings {
        public_dir: dir.clone(),
        ..settings()
    });
    let addr = server.local_addr();
    for path in ["/", "/index.html", "/home.html"] {
        let response = http_async(addr, path, "").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    }
    for path in ["/.env", "/%2Eenv", "/.git/config", "/key.txt"] {
        let response = http_async(addr, path, "").await;
        assert!(response.starts_with("HTTP/1.1 404"), "{path}: {response}");
        assert!(
            !response.contains("SECRET") && !response.contains("BEGIN"),
            "{response}"
        );
    }
    server.shutdown().await;

    let server = start(Settings {
        public_dir: dir,
        public_dotfiles: true,
        public_outside_links: true,
        ..settings()
    });
    let addr = server.local_addr();
    assert!(http_async(addr, "/.env", "")
        .await
        .contains("SECRET=hunter2"));
    assert!(http_async(addr, "/key.txt", "").await.contains("BEGIN KEY"));
    server.shutdown().await;
}
