//! `scgate new-plugin`: [`scaffold`] writes a new, buildable plugin project from the templates
//! in `templates/`.

use super::templates::verbatim;
use anyhow::{anyhow, bail, Context};
use std::fmt;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// new-plugin

/// The languages `new-plugin` has templates for. Adding one: a variant here, its files in
/// `templates/LANG/`, and its arms in `templates.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust with wit-bindgen, built for wasm32-wasip2.
    Rust,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    Js,
    /// C, built with clang and wasi-libc, linked by wasm-component-ld.
    C,
}

/// What a new plugin project is called and holds.
#[derive(Clone, Debug)]
pub struct Scaffold {
    /// The plugin's name (`[plugins.NAME]`), also its package name.
    pub name: String,
    /// The event its handler registers.
    pub event: String,
    pub lang: Lang,
    /// The project folder.
    pub dir: PathBuf,
    /// The files written, relative to `dir`.
    pub files: Vec<&'static str>,
}

impl Scaffold {
    /// The Rust library crate name: the package name with `-` as `_` (cargo names the output
    /// file after it).
    pub fn crate_name(&self) -> String {
        self.name.replace('-', "_")
    }

    /// The built component, relative to where `dir` is.
    pub fn output(&self) -> PathBuf {
        match self.lang {
            Lang::Rust => self
                .dir
                .join("target/wasm32-wasip2/release")
                .join(format!("{}.wasm", self.crate_name())),
            Lang::Python | Lang::Js | Lang::C => self.dir.join(format!("{}.wasm", self.name)),
        }
    }
}

/// Rust keywords and crate names a plugin's library cannot take.
const RESERVED: &[&str] = &[
    "abstract",
    "alloc",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "core",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "proc_macro",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "std",
    "struct",
    "super",
    "test",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "wit_bindgen",
    "yield",
];

/// Longest plugin name accepted.
const MAX_NAME: usize = 64;

/// Checks a plugin name: lowercase ASCII letters, digits and `-`, starting with a letter, not
/// ending with `-`, at most 64 characters, and usable as a Rust crate name.
pub fn validate_name(name: &str) -> Result<String, String> {
    let rule = "use lowercase letters, digits and '-', starting with a letter (e.g. chat-rooms)";
    if name.is_empty() {
        return Err(format!("the name is empty; {rule}"));
    }
    if name.len() > MAX_NAME {
        return Err(format!("the name is longer than {MAX_NAME} characters"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        return Err(format!("{bad:?} is not allowed in a plugin name; {rule}"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("a plugin name must start with a letter; {rule}"));
    }
    if name.ends_with('-') {
        return Err(format!("a plugin name must not end with '-'; {rule}"));
    }
    if RESERVED.contains(&name.replace('-', "_").as_str()) {
        return Err(format!(
            "{name:?} is a Rust keyword or a reserved crate name; choose another"
        ));
    }
    Ok(name.to_owned())
}

/// Fills a template's placeholders.
fn render(text: &str, scaffold: &Scaffold) -> String {
    text.replace("{{name}}", &scaffold.name)
        .replace("{{crate_name}}", &scaffold.crate_name())
        .replace("{{event}}", &scaffold.event)
}

/// Writes a new plugin project named `name` (already validated) into `dir`, which must not
/// exist or be empty. Its handler registers the event `name`.
pub fn scaffold(name: &str, lang: Lang, dir: &Path) -> anyhow::Result<Scaffold> {
    let name = validate_name(name).map_err(|e| anyhow!(e))?;
    if dir.exists() {
        if !dir.is_dir() {
            bail!("{} exists and is not a folder", dir.display());
        }
        let mut entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} exists and is not empty; choose another --dir or remove it",
                dir.display()
            );
        }
    }
    let mut scaffold = Scaffold {
        event: name.clone(),
        name,
        lang,
        dir: dir.to_path_buf(),
        files: Vec::new(),
    };
    for &(file, text) in lang.files() {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let text = if verbatim(file) {
            text.to_owned()
        } else {
            render(text, &scaffold)
        };
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        if file.ends_with(".sh") {
            make_executable(&path)?;
        }
        scaffold.files.push(file);
    }
    Ok(scaffold)
}

/// Sets the executable bits of a script the project's README says to run.
fn make_executable(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut permissions = std::fs::metadata(path)?.permissions();
        permissions.set_mode(permissions.mode() | 0o111);
        std::fs::set_permissions(path, permissions)
            .with_context(|| format!("cannot make {} executable", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A path for a shell command line: quoted when it holds anything but safe characters.
fn shell(path: &Path) -> String {
    let text = path.display().to_string();
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c));
    if safe {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

impl fmt::Display for Scaffold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (dir, lang) = (self.dir.display(), self.lang);
        let world = "world handler-plugin";
        writeln!(
            f,
            "created {dir}: an scgate plugin in {} ({world}) that answers the event `{}`",
            lang.title(),
            self.event
        )?;
        for file in &self.files {
            writeln!(f, "  {}", self.dir.join(file).display())?;
        }
        let output = self.output();
        let wasi = if lang.needs_wasi() { " --wasi" } else { "" };
        writeln!(f)?;
        writeln!(f, "next steps:")?;
        writeln!(f, "  cd {}", shell(&self.dir))?;
        for step in lang.build_steps() {
            writeln!(f, "  {step}")?;
        }
        writeln!(f, "  # the component: {}", output.display())?;
        writeln!(f, "  scgate check-plugin {}{wasi}", shell(&output))?;
        writeln!(f)?;
        writeln!(f, "then add to scgate.toml:")?;
        writeln!(f)?;
        writeln!(f, "  [plugins.{}]", self.name)?;
        writeln!(f, "  file = {:?}", output.display().to_string())?;
        if lang.needs_wasi() {
            writeln!(f, "  wasi = true")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "and run `scgate serve`. Edit {} to write your logic.",
            self.dir.join(lang.source()).display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["hello", "chat-rooms", "a1", "x-2-y"] {
            assert_eq!(validate_name(good).as_deref(), Ok(good), "{good}");
        }
        for bad in [
            "",
            "Hello",
            "1abc",
            "-a",
            "a-",
            "a_b",
            "a b",
            "héllo",
            "fn",
            "std",
            "wit-bindgen",
            &"a".repeat(65),
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let scaffold = Scaffold {
            name: "chat-rooms".into(),
            event: "chat-rooms".into(),
            lang: Lang::Rust,
            dir: PathBuf::from("plugins/chat-rooms"),
            files: Vec::new(),
        };
        for &(file, text) in [Lang::Rust, Lang::Python, Lang::Js, Lang::C]
            .iter()
            .flat_map(|lang| lang.files())
        {
            if verbatim(file) {
                continue;
            }
            let out = render(text, &scaffold);
            assert!(
                !out.contains("{{name}}")
                    && !out.contains("{{crate_name}}")
                    && !out.contains("{{event}}"),
                "{file}"
            );
        }
        assert_eq!(
            scaffold.output(),
            PathBuf::from("plugins/chat-rooms/target/wasm32-wasip2/release/chat_rooms.wasm")
        );
    }

    #[test]
    fn shell_quotes_only_when_needed() {
        assert_eq!(shell(Path::new("plugins/a-b")), "plugins/a-b");
        assert_eq!(shell(Path::new("my dir/x")), "'my dir/x'");
    }
}
