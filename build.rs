//! Generates libaio.h from the Rust definitions, when the `header` feature is
//! on (the default for development; `make` and distribution builds turn it
//! off and use the checked-in `include/libaio.h`).
//!
//! The result goes to `$OUT_DIR/libaio.h`; `make header` copies it to
//! `include/`, and a unit test fails while the two differ.

fn main() {
    #[cfg(feature = "header")]
    header::generate();
}

#[cfg(feature = "header")]
mod header {
    use std::env;
    use std::fs;
    use std::path::{Path, PathBuf};

    pub fn generate() {
        let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
        let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
        for input in ["cbindgen.toml", "src"] {
            println!("cargo:rerun-if-changed={}", root.join(input).display());
        }

        let read = |name: &str| -> String {
            let path = root.join("src/header").join(name);
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        let mut config =
            cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
        config.header = Some(read("prologue.h").trim_end().to_owned());
        config.after_includes = Some(read("after_includes.h").trim_end().to_owned());
        config.trailer = Some(read("helpers.h").trim_end().to_owned());

        let mut text = Vec::new();
        cbindgen::Builder::new()
            .with_crate(&root)
            .with_config(config)
            .generate()
            .expect("cbindgen could not generate libaio.h")
            .write(&mut text);
        let text = String::from_utf8(text).expect("cbindgen wrote UTF-8");
        write_if_changed(&out.join("libaio.h"), &tidy(&text));
    }

    /// A field under `#[cfg]` comes out as `#if X / type name / #endif / ;`:
    /// the semicolon lands outside the conditional, an empty declaration that
    /// `-Wpedantic` rejects. Move it back onto the field.
    fn tidy(text: &str) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if line.trim() == "#endif" && lines.peek().is_some_and(|next| next.trim() == ";") {
                lines.next();
                let field = out.last_mut().expect("a field precedes #endif");
                field.push(';');
            }
            out.push(line.to_owned());
        }
        out.join("\n") + "\n"
    }

    fn write_if_changed(path: &Path, text: &str) {
        if fs::read_to_string(path).ok().as_deref() != Some(text) {
            fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}
