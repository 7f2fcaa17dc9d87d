//! What the public port refuses before serving anything: a WebSocket upgrade that is not a GET
//! or carries a malformed `Sec-WebSocket-Key` (400), an `Origin` outside `origins` (403), and a
//! static path that names a dotfile or leads, through a symbolic link, out of `public_dir` (404).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::HeaderValue;
use std::path::{Component, Path};

/// Whether a `Sec-WebSocket-Key` is what RFC 6455 asks: 16 bytes in base64.
pub(crate) fn valid_key(key: &HeaderValue) -> bool {
    // 16 bytes are 24 base64 characters; anything longer cannot be a key.
    key.len() == 24 && STANDARD.decode(key.as_bytes()).is_ok_and(|k| k.len() == 16)
}

/// Whether `origins` admits a request with the `Origin` header `origin`, as SocketCluster's
/// `origins` option does: entries `HOST:PORT` (separated by spaces or commas), either part `*`;
/// `*:*` admits everything. The origin's port is its own, else 443 for https and wss, else
/// 80. A request without an `Origin` (or with `null`), as non-browser clients send, is taken
/// the way SocketCluster takes it: as host `null` on port 80, so `*:*`, `*:80` or `null:*`
/// admit it.
pub(crate) fn origin_allowed(origins: &str, origin: Option<&HeaderValue>) -> bool {
    let entries = || origins.split([' ', ',']).filter(|e| !e.is_empty());
    if entries().any(|e| e == "*:*") {
        return true;
    }
    let (host, port) = match origin.and_then(|o| o.to_str().ok()) {
        None | Some("null") => ("null".to_owned(), 80),
        Some(origin) => match host_and_port(origin) {
            Some(parts) => parts,
            None => return false,
        },
    };
    let port = port.to_string();
    entries().any(|entry| {
        let Some((h, p)) = entry.rsplit_once(':') else {
            return false;
        };
        (h == "*" || h.eq_ignore_ascii_case(&host)) && (p == "*" || p == port)
    })
}

/// The host (lower case) and port of an origin `scheme://host[:port]`.
fn host_and_port(origin: &str) -> Option<(String, u16)> {
    let uri: http::Uri = origin.parse().ok()?;
    let host = uri.host()?.to_ascii_lowercase();
    let default = match uri.scheme_str() {
        Some("https" | "wss") => 443,
        _ => 80,
    };
    Some((host, uri.port_u16().unwrap_or(default)))
}

/// Whether the static file at `uri_path` may be served from `public_dir`: no path segment
/// starting with a dot unless `dotfiles`, and (unless `outside_links`) the file, after every
/// symbolic link is followed, still inside `public_dir`. A path that names nothing is allowed
/// (the file server answers 404 for it).
pub(crate) fn static_allowed(
    public_dir: &Path,
    uri_path: &str,
    dotfiles: bool,
    outside_links: bool,
) -> bool {
    let Some(relative) = decode_path(uri_path) else {
        return false;
    };
    let dot = Path::new(&relative).components().any(|c| match c {
        Component::Normal(name) => name.as_encoded_bytes().first() == Some(&b'.'),
        Component::ParentDir => true,
        _ => false,
    });
    if dot && !dotfiles {
        return false;
    }
    if outside_links {
        return true;
    }
    let target = public_dir.join(relative.trim_start_matches('/'));
    let (Ok(root), Ok(resolved)) = (public_dir.canonicalize(), target.canonicalize()) else {
        return true;
    };
    let resolved = if resolved.is_dir() {
        match resolved.join("index.html").canonicalize() {
            Ok(index) => index,
            Err(_) => resolved,
        }
    } else {
        resolved
    };
    resolved.starts_with(root)
}

/// The percent-decoded path, if it decodes to UTF-8 without a NUL.
fn decode_path(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().filter(|s| !s.contains('\0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(origins: &str, origin: Option<&str>) -> bool {
        let value = origin.map(|o| HeaderValue::from_str(o).unwrap());
        origin_allowed(origins, value.as_ref())
    }

    #[test]
    fn origins_follow_socketcluster() {
        assert!(allowed("*:*", Some("https://evil.example")));
        assert!(allowed("*:*", None));
        let origins = "example.com:443, app.example.com:* *:8080";
        assert!(allowed(origins, Some("https://example.com")));
        assert!(allowed(origins, Some("https://EXAMPLE.com:443")));
        assert!(!allowed(origins, Some("http://example.com")), "port 80");
        assert!(allowed(origins, Some("http://app.example.com:1234")));
        assert!(allowed(origins, Some("http://localhost:8080")));
        assert!(!allowed(origins, Some("https://evil.example")));
        assert!(!allowed(origins, Some("not an origin")));
        assert!(!allowed(origins, None), "no Origin: host null, port 80");
        assert!(allowed("null:*", None));
        assert!(allowed("*:80", Some("null")));
    }

    #[test]
    fn keys_are_16_bytes_of_base64() {
        assert!(valid_key(&HeaderValue::from_static(
            "dGhlIHNhbXBsZSBub25jZQ=="
        )));
        assert!(!valid_key(&HeaderValue::from_static(
            "dGhlIHNhbXBsZSBub25jZQ"
        )));
        assert!(!valid_key(&HeaderValue::from_static(
            "not base64 at all!!!!!!="
        )));
        assert!(!valid_key(&HeaderValue::from_static(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        )));
    }

    #[test]
    fn dotfiles_and_links_out_of_the_folder_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let public = root.path().join("public");
        std::fs::create_dir(&public).unwrap();
        std::fs::write(public.join("index.html"), "hi").unwrap();
        std::fs::write(public.join(".env"), "SECRET=1").unwrap();
        std::fs::write(root.path().join("secret.txt"), "no").unwrap();
        std::os::unix::fs::symlink(root.path().join("secret.txt"), public.join("out.txt")).unwrap();
        std::os::unix::fs::symlink(public.join("index.html"), public.join("in.html")).unwrap();
        let ok = |path: &str| static_allowed(&public, path, false, false);
        assert!(ok("/") && ok("/index.html") && ok("/in.html") && ok("/missing.js"));
        assert!(!ok("/.env") && !ok("/%2eenv") && !ok("/a/.git/config"));
        assert!(!ok("/out.txt"), "a link out of the folder");
        assert!(
            static_allowed(&public, "/.env", true, false),
            "public_dotfiles"
        );
        assert!(
            static_allowed(&public, "/out.txt", false, true),
            "public_outside_links"
        );
    }
}
