//! The manual pages in man/: one for every function the library exports and
//! every inline helper of the header, plus the overview, libaio(3).
//!
//! - Coverage: every name of src/symbols.txt (library "all") and every
//!   `static inline` function of include/libaio.h (but the internal `__`
//!   ones) has a page named after it, and every page is one of those or
//!   libaio.3.
//! - Form: the same `.TH` line everywhere, the sections every page needs,
//!   references to pages of this set that exist.
//! - Linters: `groff -man -ww -z` and `mandoc -T lint` say nothing about any
//!   page (both tools come from scripts/test-deps).
//! - Synopses: every prototype a SYNOPSIS shows is a declaration of the
//!   header, word for word once whitespace is normalised.
//! - Examples: a page with a "Program source" compiles against our header
//!   and library, runs, and prints the output the page shows.
//!
//! `make install` of the pages is covered by tests/shared_object.rs.

mod common;

use common::{include_dir, libdir, root, run, scratch_dir};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The sections every page has, in this order.
const SECTIONS: [&str; 7] = [
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "RETURN VALUE",
    "ERRORS",
    "NOTES",
    "SEE ALSO",
];

/// The subsection of NOTES every page has.
const DIFFERENCES: &str = "Differences from libaio 0.3.113";

/// The overview page.
const OVERVIEW: &str = "libaio";

// ---------------------------------------------------------------------------
// What must be documented

/// The exported functions: column 1 of src/symbols.txt, for library "all".
fn exported_functions() -> BTreeSet<String> {
    let table = read(&root().join("src/symbols.txt"));
    let names: BTreeSet<String> = table
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(columns.len(), 5, "src/symbols.txt: bad line {line:?}");
            (columns[4] == "all").then(|| columns[0].to_owned())
        })
        .collect();
    assert!(
        names.len() >= 10,
        "src/symbols.txt: only {names:?} found; has the table's format changed?"
    );
    names
}

/// The `static inline` functions of the header whose names do not start
/// with `__`.
fn inline_helpers() -> BTreeSet<String> {
    let names: BTreeSet<String> = header_declarations()
        .iter()
        .filter_map(|decl| decl.strip_prefix("static inline "))
        .map(|rest| function_name(rest).expect("a static inline function has a name"))
        .filter(|name| !name.starts_with("__"))
        .collect();
    assert!(
        names.len() >= 14,
        "include/libaio.h: only {names:?} found; has the header's format changed?"
    );
    names
}

/// The name of the function a prototype declares: the identifier before
/// its first parenthesis.
fn function_name(prototype: &str) -> Option<String> {
    let before = &prototype[..prototype.find('(')?];
    let name: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<Vec<char>>()
        .into_iter()
        .rev()
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Every function declaration or definition of the header, as one line with
/// whitespace normalised and without the `;` or body that follows it: the
/// top-level lines that open a parenthesis, up to where it closes.
fn header_declarations() -> Vec<String> {
    let header = read(&include_dir().join("libaio.h"));
    let mut declarations = Vec::new();
    let mut current: Option<String> = None;
    for line in header.lines() {
        if current.is_none() {
            let top_level = line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
            if !top_level || !line.contains('(') {
                continue;
            }
        }
        let text = current.get_or_insert_with(String::new);
        text.push(' ');
        text.push_str(line);
        let depth: i32 = text
            .chars()
            .map(|c| match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            })
            .sum();
        if depth == 0 {
            let mut text = current.take().unwrap();
            // A trailing attribute macro (`__LIBAIO_TIME64_NAME(...)`,
            // `__LIBAIO_TIME32_ONLY`) is not part of the prototype.
            if let Some(at) = text.find(") __LIBAIO_") {
                text.truncate(at + 1);
            }
            let end = text.rfind(')').unwrap() + 1;
            declarations.push(normalise(&text[..end]));
        }
    }
    assert!(
        current.is_none(),
        "include/libaio.h: unbalanced parentheses"
    );
    declarations
}

/// Collapses whitespace to single spaces, with none just inside parentheses
/// or before commas.
fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",")
}

// ---------------------------------------------------------------------------
// The pages

/// A manual page of man/.
struct Page {
    /// The name it is installed as, without ".3".
    name: String,
    path: PathBuf,
    source: String,
}

impl Page {
    /// The source lines of a section (`.SH` title), without the `.SH` line.
    fn section(&self, title: &str) -> Vec<&str> {
        let mut lines = self.source.lines();
        let heading = format!(".SH {title}");
        let heading_quoted = format!(".SH \"{title}\"");
        if !lines.any(|line| line == heading || line == heading_quoted) {
            return Vec::new();
        }
        lines.take_while(|line| !line.starts_with(".SH ")).collect()
    }

    /// The section titles, in order.
    fn sections(&self) -> Vec<String> {
        self.source
            .lines()
            .filter_map(|line| line.strip_prefix(".SH "))
            .map(|title| title.trim_matches('"').to_owned())
            .collect()
    }
}

/// Every page in man/, sorted by name.
fn pages() -> Vec<Page> {
    let dir = root().join("man");
    let mut pages: Vec<Page> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "3"))
        .map(|path| Page {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            source: read(&path),
            path,
        })
        .collect();
    pages.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!pages.is_empty(), "no manual pages in {}", dir.display());
    pages
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Panics listing the failures, if there are any.
fn report(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}:\n{}",
        failures
            .iter()
            .map(|f| format!("  {}", f.trim_end().replace('\n', "\n  ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------
// Coverage and form

#[test]
fn every_function_and_helper_has_a_page() {
    let pages: BTreeSet<String> = pages().into_iter().map(|page| page.name).collect();
    let exported = exported_functions();
    let helpers = inline_helpers();
    let mut failures = Vec::new();
    for name in exported.iter().chain(&helpers) {
        if !pages.contains(name) {
            failures.push(format!("{name}: no man/{name}.3"));
        }
    }
    if !pages.contains(OVERVIEW) {
        failures.push(format!("no overview page man/{OVERVIEW}.3"));
    }
    for page in &pages {
        if page != OVERVIEW && !exported.contains(page) && !helpers.contains(page) {
            failures.push(format!(
                "man/{page}.3 documents neither an exported function (src/symbols.txt) \
                 nor an inline helper (include/libaio.h)"
            ));
        }
    }
    report("missing or stray manual pages", &failures);
}

#[test]
fn pages_share_their_form() {
    let pages = pages();
    let names: BTreeSet<&str> = pages.iter().map(|page| page.name.as_str()).collect();
    let mut failures = Vec::new();
    let mut th_tails = BTreeSet::new();
    for page in &pages {
        let mut fail = |message: String| failures.push(format!("{}.3: {message}", page.name));
        // .TH NAME 3 date "libaio-rs 0.3.113" "Linux Programmer's Manual"
        let first = page.source.lines().next().unwrap_or("");
        let th_head = format!(".TH {} 3 ", page.name.to_uppercase());
        match first.strip_prefix(&th_head) {
            Some(tail)
                if tail.ends_with(" \"libaio-rs 0.3.113\" \"Linux Programmer's Manual\"") =>
            {
                th_tails.insert(tail.to_owned());
            }
            _ => fail(format!(
                "the first line must be `{th_head}DATE \"libaio-rs 0.3.113\" \
                 \"Linux Programmer's Manual\"`, not {first:?}"
            )),
        }
        let sections = page.sections();
        let expected: Vec<&str> = SECTIONS
            .iter()
            .copied()
            .filter(|s| sections.iter().any(|t| t == s))
            .collect();
        let present: Vec<&str> = sections
            .iter()
            .map(String::as_str)
            .filter(|s| SECTIONS.contains(s))
            .collect();
        if expected.len() != SECTIONS.len() {
            fail(format!(
                "needs the sections {SECTIONS:?}; it has {sections:?}"
            ));
        } else if present != expected {
            fail(format!("sections out of order: {sections:?}"));
        }
        let name_line = page.section("NAME").join(" ");
        if !name_line.starts_with(&format!("{} \\- ", page.name)) {
            fail(format!(
                "NAME must read `{} \\- description`, not {name_line:?}",
                page.name
            ));
        }
        if !page
            .source
            .lines()
            .any(|line| line == format!(".SS {DIFFERENCES}"))
        {
            fail(format!("NOTES needs the subsection `.SS {DIFFERENCES}`"));
        }
        // A result is a negated errno and errno is never changed: every page
        // whose function returns something says so.
        let returns = page.section("RETURN VALUE").join("\n");
        if returns.trim() != "None." && !returns.contains("errno") {
            fail("RETURN VALUE must say that errno is never changed".to_owned());
        }
        // References to the pages of this set must lead somewhere.
        for line in page.section("SEE ALSO") {
            let Some(reference) = line.strip_prefix(".BR ") else {
                fail(format!("SEE ALSO: unexpected line {line:?}"));
                continue;
            };
            let target = reference.split_whitespace().next().unwrap_or("");
            let ours = target.starts_with("io_") || target == OVERVIEW;
            if ours && reference.contains("(3)") && !names.contains(target) {
                fail(format!("SEE ALSO names {target}(3), which has no page"));
            }
        }
    }
    if th_tails.len() > 1 {
        failures.push(format!(
            "the .TH lines differ in date or footer: {th_tails:?}"
        ));
    }
    report("manual pages out of form", &failures);
}

// ---------------------------------------------------------------------------
// Linters

/// A command that must exist: panics naming the package that provides it.
fn tool(name: &str, package: &str) -> Command {
    match Command::new(name).arg("--version").output() {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{name}` is not installed: it checks the manual pages; \
             install the `{package}` package (scripts/test-deps does)"
        ),
        Err(e) => panic!("cannot run `{name}`: {e}"),
    }
    let mut cmd = Command::new(name);
    cmd.env("LC_ALL", "C.UTF-8");
    cmd
}

#[test]
fn groff_finds_nothing_to_warn_about() {
    let mut failures = Vec::new();
    for page in pages() {
        let out = run(tool("groff", "groff-base")
            .args(["-man", "-ww", "-z"])
            .arg(&page.path));
        if !out.status.success() || !out.stdout.is_empty() || !out.stderr.is_empty() {
            failures.push(format!(
                "{}.3 ({}):\n{}{}",
                page.name,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    report("groff -man -ww -z complains", &failures);
}

#[test]
fn mandoc_lint_finds_nothing() {
    let mut failures = Vec::new();
    for page in pages() {
        let out = run(tool("mandoc", "mandoc")
            .args(["-T", "lint"])
            .arg(&page.path));
        if !out.status.success() || !out.stdout.is_empty() || !out.stderr.is_empty() {
            failures.push(format!(
                "{}.3 ({}):\n{}{}",
                page.name,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    report("mandoc -T lint complains", &failures);
}

// ---------------------------------------------------------------------------
// Synopses

/// Splits the arguments of a macro line as roff does: on spaces, with
/// double-quoted arguments (where `""` stands for a quote).
fn macro_arguments(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if_eq(&' ').is_some() {}
        let Some(&first) = chars.peek() else {
            return args;
        };
        let mut arg = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.next_if_eq(&'"').is_some() {
                        arg.push('"');
                        continue;
                    }
                    break;
                }
                arg.push(c);
            }
        } else {
            while let Some(c) = chars.next_if(|&c| c != ' ') {
                arg.push(c);
            }
        }
        args.push(arg);
    }
}

/// The text roff escapes of a synopsis stand for, fonts dropped.
fn unescape(text: &str) -> String {
    let mut out = text.to_owned();
    for (escape, plain) in [
        ("\\fB", ""),
        ("\\fI", ""),
        ("\\fR", ""),
        ("\\fP", ""),
        ("\\&", ""),
        ("\\-", "-"),
        ("\\(aq", "'"),
        ("\\ ", " "),
        ("\\e", "\\"),
    ] {
        out = out.replace(escape, plain);
    }
    out
}

/// The text lines of a SYNOPSIS as a reader sees them (font macros joined,
/// other requests dropped).
fn render_synopsis(lines: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let text = match line.split_once(' ') {
            Some((".B" | ".I", rest)) => macro_arguments(rest).join(" "),
            Some((".BI" | ".IB" | ".BR" | ".RB" | ".IR" | ".RI", rest)) => {
                macro_arguments(rest).concat()
            }
            _ if line.starts_with('.') => continue,
            _ => (*line).to_owned(),
        };
        out.push(unescape(&text));
    }
    out
}

/// The prototypes among rendered synopsis lines: from a line that opens a
/// parenthesis to the line that ends with `;`, normalised, without the `;`.
fn prototypes(lines: &[String]) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in lines {
        if current.is_none() && (line.starts_with('#') || !line.contains('(')) {
            continue;
        }
        let text = current.get_or_insert_with(String::new);
        text.push(' ');
        text.push_str(line);
        if text.trim_end().ends_with(';') {
            let text = current.take().unwrap();
            found.push(normalise(text.trim_end().trim_end_matches(';')));
        }
    }
    match current {
        Some(text) => Err(format!("a prototype does not end with `;`: {text:?}")),
        None => Ok(found),
    }
}

#[test]
fn synopses_show_the_headers_prototypes() {
    let declarations: BTreeSet<String> = header_declarations().into_iter().collect();
    let exported = exported_functions();
    let mut failures = Vec::new();
    for page in pages() {
        let mut fail = |message: String| failures.push(format!("{}.3: {message}", page.name));
        let synopsis = render_synopsis(&page.section("SYNOPSIS"));
        let text = synopsis.join("\n");
        if !synopsis.iter().any(|line| line == "#include <libaio.h>") {
            fail("SYNOPSIS lacks `#include <libaio.h>`".to_owned());
        }
        if !normalise(&text).contains("Link with -laio.") {
            fail("SYNOPSIS lacks `Link with -laio.`".to_owned());
        }
        let prototypes = match prototypes(&synopsis) {
            Ok(prototypes) => prototypes,
            Err(message) => {
                fail(message);
                continue;
            }
        };
        for prototype in &prototypes {
            if !declarations.contains(prototype) {
                fail(format!(
                    "the prototype `{prototype};` is not a declaration of include/libaio.h"
                ));
            }
        }
        let shown: BTreeSet<String> = prototypes.iter().filter_map(|p| function_name(p)).collect();
        if page.name == OVERVIEW {
            for name in &exported {
                if !shown.contains(name) {
                    fail(format!("SYNOPSIS lacks the prototype of {name}"));
                }
            }
        } else if !shown.contains(&page.name) {
            fail(format!("SYNOPSIS lacks the prototype of {}", page.name));
        }
    }
    report("synopses that do not match the header", &failures);
}

// ---------------------------------------------------------------------------
// Example programs

/// The C compiler: `$CC`, or `cc`.
fn cc() -> Command {
    Command::new(std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc")))
}

/// The `.EX` blocks of a page from a line on, as plain text.
fn example_blocks<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in lines {
        match (line, current.as_mut()) {
            (".EX", None) => current = Some(Vec::new()),
            (".EE", Some(_)) => blocks.push(current.take().unwrap()),
            (_, Some(block)) => block.push(unescape(line)),
            _ => {}
        }
    }
    blocks
}

/// A page's example program: the code after `.SS Program source`, and the
/// session shown before it (`$ ./program ARG` then the lines it prints).
struct Example {
    source: String,
    argument: String,
    output: Vec<String>,
}

fn example(page: &Page) -> Option<Example> {
    let examples: Vec<&str> = page.section("EXAMPLES");
    let split = examples
        .iter()
        .position(|line| *line == ".SS Program source")?;
    let session = example_blocks(examples[..split].iter().copied());
    let code = example_blocks(examples[split..].iter().copied());
    assert_eq!(
        (session.len(), code.len()),
        (1, 1),
        "{}.3: EXAMPLES needs one example session and one program",
        page.name
    );
    let (command, output) = session[0]
        .split_first()
        .unwrap_or_else(|| panic!("{}.3: empty example session", page.name));
    let words: Vec<&str> = command.split_whitespace().collect();
    assert!(
        words.len() == 3 && words[0] == "$" && words[1].starts_with("./"),
        "{}.3: the session must start with `$ ./program ARGUMENT`, not {command:?}",
        page.name
    );
    Some(Example {
        source: code[0].join("\n") + "\n",
        argument: Path::new(words[2])
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        output: output.to_vec(),
    })
}

#[test]
fn example_programs_build_and_print_what_the_pages_show() {
    let dir = scratch_dir("man_pages_examples");
    let mut tested = 0;
    for page in pages() {
        let Some(example) = example(&page) else {
            continue;
        };
        tested += 1;
        let source = dir.join(format!("{}.c", page.name));
        let program = dir.join(&page.name);
        std::fs::write(&source, &example.source).unwrap();
        let built = run(cc()
            .args(["-std=gnu11", "-Wall", "-Werror", "-I"])
            .arg(include_dir())
            .arg(&source)
            .arg("-L")
            .arg(libdir())
            .arg("-laio")
            .arg("-o")
            .arg(&program));
        assert!(
            built.status.success(),
            "{}.3: the example does not compile:\n{}",
            page.name,
            String::from_utf8_lossy(&built.stderr)
        );
        let out = run(Command::new(&program)
            .arg(dir.join(&example.argument))
            .env("LD_LIBRARY_PATH", libdir())
            .env_remove("LIBAIO_USERSPACE_REAP"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}.3: the example fails ({}):\n{stdout}{}",
            page.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // Completions may come in any order: compare the lines as sets.
        let mut printed: Vec<&str> = stdout.lines().collect();
        let mut shown: Vec<&str> = example.output.iter().map(String::as_str).collect();
        printed.sort_unstable();
        shown.sort_unstable();
        assert_eq!(
            printed, shown,
            "{}.3: the example prints something else than the page shows",
            page.name
        );
    }
    assert!(
        tested >= 1,
        "no page has an example program (`.SS Program source` under EXAMPLES)"
    );
}

// ---------------------------------------------------------------------------
// Self-tests of the parsers above

#[test]
fn the_synopsis_parser_reads_what_the_pages_write() {
    let lines = [
        ".nf",
        ".B #include <libaio.h>",
        ".PP",
        ".BI \"int io_getevents(io_context_t \" ctx \", long \" min_nr \", long \" nr ,",
        ".BI \"                 struct io_event *\" events \", struct timespec *\" timeout );",
        ".fi",
        ".PP",
        "Link with",
        ".IR \\-laio .",
    ];
    let rendered = render_synopsis(&lines);
    assert_eq!(rendered[0], "#include <libaio.h>");
    assert_eq!(rendered.last().unwrap(), "-laio.");
    assert_eq!(
        prototypes(&rendered).unwrap(),
        [
            "int io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *events, \
          struct timespec *timeout)"
        ]
    );
    assert!(header_declarations().contains(&prototypes(&rendered).unwrap()[0]));
    assert_eq!(
        macro_arguments(r#"a "b c" "d""e" f"#),
        ["a", "b c", "d\"e", "f"]
    );
    assert_eq!(
        function_name("static inline void io_prep_pread(struct iocb *iocb)").as_deref(),
        Some("io_prep_pread")
    );
    // A parameter renamed, or a missing `static inline`, is caught.
    let declarations = header_declarations();
    assert!(!declarations.contains(&"int io_setup(int nr, io_context_t *ctxp)".to_owned()));
    assert!(
        !declarations
            .contains(&"void io_set_callback(struct iocb *iocb, io_callback_t cb)".to_owned())
    );
    assert!(declarations.contains(
        &"static inline void io_set_callback(struct iocb *iocb, io_callback_t cb)".to_owned()
    ));
}
