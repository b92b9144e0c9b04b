//! Generates libaio-rs's `include/libaio.h` from the Rust definitions
//! (`src/abi.rs`, `src/exports.rs`) with cbindgen, plus the C helpers of
//! `src/header/`.
//!
//! ```text
//! cargo run --manifest-path tools/header/Cargo.toml                  # rewrite include/libaio.h
//! cargo run --manifest-path tools/header/Cargo.toml -- --check       # fail if it is stale
//! cargo run --manifest-path tools/header/Cargo.toml -- --check FILE  # compare FILE instead
//! ```
//!
//! `make header` runs the first; tests/header.rs runs the others. The
//! library itself never needs this tool: the generated header is checked in.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (check, file) = match args.as_slice() {
        [] => (false, None),
        [flag] if flag == "--check" => (true, None),
        [flag, file] if flag == "--check" => (true, Some(PathBuf::from(file))),
        _ => {
            eprintln!("usage: libaio-rs-header [--check [FILE]]");
            return ExitCode::from(2);
        }
    };
    // tools/header/ is two levels below the repository's root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = fs::canonicalize(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    let generated = generate(&root);
    let path = file.unwrap_or_else(|| root.join("include/libaio.h"));
    let current = fs::read_to_string(&path).ok();
    if current.as_deref() == Some(generated.as_str()) {
        println!("{} is current", path.display());
        return ExitCode::SUCCESS;
    }
    if check {
        eprintln!(
            "{} is stale: run `make header` and commit the result",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    fs::write(&path, &generated).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    println!("wrote {}", path.display());
    ExitCode::SUCCESS
}

/// The header cbindgen makes from the crate at `root`, with its configuration
/// (cbindgen.toml) and the hand-written C parts (src/header/).
fn generate(root: &Path) -> String {
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
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate libaio.h")
        .write(&mut text);
    tidy(&String::from_utf8(text).expect("cbindgen wrote UTF-8"))
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
