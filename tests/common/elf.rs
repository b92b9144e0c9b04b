//! What `readelf` says of a shared object: exported and imported symbols,
//! version definitions, dynamic section. GNU readelf reads the ELF files of
//! every architecture, so the host's serves for cross-built libraries too.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use super::run_ok;

fn readelf(flag: &str, file: &Path) -> String {
    let out = run_ok(Command::new("readelf").arg("-W").arg(flag).arg(file));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Each `--dyn-syms` line as (type, binding, section index, name): the
/// line is `Num: Value Size Type Bind Vis [more visibility] Ndx Name`, where
/// ppc64's ELFv2 adds `[<localentry>: 8]` after the visibility.
fn dyn_syms(lib: &Path) -> Vec<[String; 4]> {
    readelf("--dyn-syms", lib)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 || !f[0].ends_with(':') {
                return None;
            }
            let mut rest = f[6..]
                .iter()
                .skip_while(|w| w.starts_with('[') || w.ends_with(']'));
            let ndx = rest.next()?;
            let name = rest.next()?;
            Some([f[3], f[4], ndx, name].map(str::to_owned))
        })
        .collect()
}

/// The defined global symbols, with their versions (`name@@VER` default,
/// `name@VER` compat; the version nodes by their names).
pub fn exported(lib: &Path) -> BTreeSet<String> {
    dyn_syms(lib)
        .into_iter()
        .filter(|[_, bind, ndx, _]| bind == "GLOBAL" && ndx != "UND")
        .map(|[_, _, _, name]| name)
        .collect()
}

/// The undefined symbols: what the library imports.
pub fn imported(lib: &Path) -> BTreeSet<String> {
    dyn_syms(lib)
        .into_iter()
        .filter(|[_, _, ndx, _]| ndx == "UND")
        .map(|[_, _, _, name]| name)
        .collect()
}

/// The version definitions (`-V`), without addresses: each node with its
/// flags and parent.
pub fn version_tree(lib: &Path) -> Vec<String> {
    let text = readelf("-V", lib);
    let Some(section) = text
        .split("Version definition section")
        .nth(1)
        .and_then(|s| s.split("Version needs section").next())
    else {
        return Vec::new();
    };
    section
        .lines()
        .filter_map(|line| {
            let rest = line.split_once(':').map(|(_, r)| r.trim())?;
            (rest.starts_with("Rev:") || rest.starts_with("Parent")).then(|| rest.to_owned())
        })
        .collect()
}

/// The values of one tag of the dynamic section (`-d`), e.g. the libraries
/// of `NEEDED` (`Shared library: [libc.so.6]`).
pub fn dynamic(file: &Path, tag: &str) -> Vec<String> {
    readelf("-d", file)
        .lines()
        .filter_map(|line| {
            let open = line.find('(')?;
            let close = line.find(')')?;
            (&line[open + 1..close] == tag).then(|| line[close + 1..].trim().to_owned())
        })
        .collect()
}

/// The ELF header's class, byte order and machine (`-h`).
pub fn machine(file: &Path) -> Vec<String> {
    readelf("-h", file)
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            matches!(key.trim(), "Class" | "Data" | "Machine").then(|| value.trim().to_owned())
        })
        .collect()
}

/// What src/symbols.txt says a library exports (`scripts/symbols.awk`'s
/// `dynsym`): `library` is `classic` or `t64`, `bits` the word size.
pub fn expected_from_table(library: &str, bits: u32) -> BTreeSet<String> {
    let root = super::root();
    let out = run_ok(
        Command::new("awk")
            .args(["-v", "what=dynsym"])
            .args(["-v", &format!("library={library}")])
            .args(["-v", &format!("bits={bits}")])
            .arg("-f")
            .arg(root.join("scripts/symbols.awk"))
            .arg(root.join("src/symbols.txt")),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}
