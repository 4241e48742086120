//! Tidy: invariants of the source tree that are checked, not only written (rust-analyzer's
//! `xtask/src/tidy.rs`, TigerBeetle's `tidy.zig`). Each test reads files and nothing is
//! compiled but this file; the dependency check runs `cargo metadata --no-deps`.
//!
//! Two checks are ratchets over a list in `tests/tidy/`: `expect("checked")` calls per file
//! (`expect-checked.txt`) and functions over 70 lines (`long-functions.txt`). A list may only
//! shrink. After a refactor that removes offenders, lower the lists with
//!
//! ```text
//! TIDY_UPDATE=1 cargo test --test tidy
//! ```
//!
//! which rewrites both files from the current tree; the reviewer checks that the diff only
//! lowers numbers and deletes lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// The source directories of the workspace's crates, relative to the root.
const SOURCE_DIRS: [&str; 6] = [
    "engine/src",
    "server/src",
    "sim/src",
    "reports/src",
    "model/src",
    "src",
];

/// Functions longer than this many lines are listed in `long-functions.txt` (TIGER_STYLE).
const FUNCTION_LINES_MAX: usize = 70;

const EXPECT_CHECKED_LIST: &str = "tests/tidy/expect-checked.txt";
const LONG_FUNCTIONS_LIST: &str = "tests/tidy/long-functions.txt";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the ratchet lists should be rewritten from the tree instead of checked.
fn updating() -> bool {
    std::env::var_os("TIDY_UPDATE").is_some_and(|v| v == "1")
}

/// Every `.rs` file under the source directories, as (path relative to the root with `/`
/// separators, contents), sorted by path.
fn source_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        let mut stack = vec![root().join(dir)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
    }
    let mut files: Vec<(String, String)> = files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            (relative(&path), text)
        })
        .collect();
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    let path = path.strip_prefix(root()).expect("a path under the root");
    let parts: Vec<_> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    parts.join("/")
}

// ---------------------------------------------------------------------------------------------
// The crate dependency table in ARCHITECTURE.md.

/// Workspace crate → (normal and build dependencies, dev-dependencies) on workspace crates.
type DependencyTable = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

const DEPENDENCY_HEADING: &str = "### Crate dependencies";

#[test]
fn architecture_lists_the_crate_dependencies() {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let actual = metadata_table(&metadata);

    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let documented = documented_table(&architecture);

    let mut expected = String::new();
    for (krate, (normal, dev)) in &actual {
        let list = |set: &BTreeSet<String>| {
            if set.is_empty() {
                "—".to_string()
            } else {
                set.iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        writeln!(expected, "| `{krate}` | {} | {} |", list(normal), list(dev)).unwrap();
    }
    assert!(
        documented == actual,
        "the crate dependency table under `{DEPENDENCY_HEADING}` in ARCHITECTURE.md does not \
         match the Cargo.toml files (cargo metadata). If the change is intended, replace \
         the table's rows with these (and update the \"Dependencies point one way\" \
         invariant); otherwise undo the change to the dependencies:\n{expected}"
    );
}

/// The dependencies between workspace members that `cargo metadata --no-deps` reports.
fn metadata_table(metadata: &serde_json::Value) -> DependencyTable {
    let packages = metadata["packages"].as_array().expect("packages");
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().expect("a package name").to_string())
        .collect();
    let mut table = DependencyTable::new();
    for package in packages {
        let (normal, dev) = table
            .entry(package["name"].as_str().unwrap().to_string())
            .or_default();
        for dependency in package["dependencies"].as_array().expect("dependencies") {
            let name = dependency["name"].as_str().expect("a dependency name");
            if !names.contains(name) {
                continue;
            }
            // `kind` is null for normal dependencies, "build" or "dev" otherwise.
            match dependency["kind"].as_str() {
                Some("dev") => dev.insert(name.to_string()),
                _ => normal.insert(name.to_string()),
            };
        }
    }
    table
}

/// Parses the Markdown table after [`DEPENDENCY_HEADING`]: a header row, a `|---|` row, then
/// one row per crate with comma-separated crate names (in backticks or not, `—` for none).
fn documented_table(architecture: &str) -> DependencyTable {
    let section = architecture
        .split_once(DEPENDENCY_HEADING)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no `{DEPENDENCY_HEADING}` section"))
        .1;
    let rows = section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2);
    let mut table = DependencyTable::new();
    for row in rows {
        let cells: Vec<&str> = row.trim().trim_matches('|').split('|').collect();
        assert_eq!(
            cells.len(),
            3,
            "a row of the crate dependency table in ARCHITECTURE.md has three cells \
             (crate, depends on, dev-depends on): {row}"
        );
        let crates = |cell: &str| -> BTreeSet<String> {
            cell.split(',')
                .map(|c| c.trim().trim_matches('`').to_string())
                .filter(|c| !c.is_empty() && c != "—" && c != "-")
                .collect()
        };
        let name = cells[0].trim().trim_matches('`').to_string();
        table.insert(name, (crates(cells[1]), crates(cells[2])));
    }
    table
}

// ---------------------------------------------------------------------------------------------
// Module docs.

#[test]
fn every_module_starts_with_a_doc_comment() {
    let offenders: Vec<String> = non_test_files()
        .into_iter()
        .filter(|(_, text)| !starts_with_module_doc(text))
        .map(|(path, _)| path)
        .collect();
    assert!(
        offenders.is_empty(),
        "these files do not start with a `//!` module doc (after optional `#![...]` \
         attributes); add one or two lines saying what the module is for:\n  {}",
        offenders.join("\n  ")
    );
}

/// Whether the first line that is not blank or part of an inner attribute is a `//!` line.
fn starts_with_module_doc(text: &str) -> bool {
    let mut in_attribute = false;
    for line in text.lines().map(str::trim) {
        if in_attribute || line.starts_with("#![") {
            // An attribute may span lines: it ends at the line that ends in `]`.
            in_attribute = !line.ends_with(']');
        } else if !line.is_empty() {
            return line.starts_with("//!");
        }
    }
    false
}

/// [`source_files`] without the unit-test modules split out into their own `tests.rs`
/// (see [`is_test_module`]).
fn non_test_files() -> Vec<(String, String)> {
    let files = source_files();
    let texts: BTreeMap<&str, &str> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let tests: BTreeSet<String> = files
        .iter()
        .filter(|(path, _)| is_test_module(path, &texts))
        .map(|(path, _)| path.clone())
        .collect();
    files
        .into_iter()
        .filter(|(path, _)| !tests.contains(path))
        .collect()
}

/// Whether `path` is a `tests.rs` that its parent module declares as `#[cfg(test)] mod
/// tests;`: a unit-test module split out of its parent. It is exempt from the module-doc rule
/// (its parent's doc covers it) and is test code for the function-length ratchet.
fn is_test_module(path: &str, files: &BTreeMap<&str, &str>) -> bool {
    let Some(dir) = path.strip_suffix("/tests.rs") else {
        return false;
    };
    let parents = [
        format!("{dir}/mod.rs"),
        format!("{dir}/lib.rs"),
        format!("{dir}/main.rs"),
        format!("{dir}.rs"),
    ];
    parents
        .iter()
        .filter_map(|p| files.get(p.as_str()))
        .any(|parent| {
            let lines: Vec<&str> = parent.lines().map(str::trim).collect();
            lines
                .windows(2)
                .any(|w| w[0] == "#[cfg(test)]" && w[1] == "mod tests;")
        })
}

// ---------------------------------------------------------------------------------------------
// Ratchets.

/// Reads a ratchet list: `key number` lines; `#` starts a comment line.
fn read_list(relative_path: &str) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(root().join(relative_path))
        .unwrap_or_else(|e| panic!("{relative_path}: {e}"));
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, number) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("{relative_path}: `{line}` is not `key number`"));
            let number = number
                .parse()
                .unwrap_or_else(|_| panic!("{relative_path}: `{line}` does not end in a number"));
            (key.trim().to_string(), number)
        })
        .collect()
}

fn write_list(relative_path: &str, header: &str, list: &BTreeMap<String, usize>) {
    let mut text = String::from(header);
    for (key, number) in list {
        writeln!(text, "{key} {number}").unwrap();
    }
    std::fs::write(root().join(relative_path), text)
        .unwrap_or_else(|e| panic!("{relative_path}: {e}"));
}

const EXPECT_CHECKED_HEADER: &str = "\
# `expect(\"checked\")` calls per file: a validator should have returned a type that execution
# cannot reject (design review 2026-12, §7 habit 1). This list may only shrink; tests/tidy.rs
# fails when a count is higher or lower than the tree's. Lower it with
# `TIDY_UPDATE=1 cargo test --test tidy`.
";

#[test]
fn expect_checked_only_shrinks() {
    let mut actual = BTreeMap::new();
    for (path, text) in source_files() {
        let count = text.matches("expect(\"checked\")").count();
        if count > 0 {
            actual.insert(path, count);
        }
    }
    if updating() {
        write_list(EXPECT_CHECKED_LIST, EXPECT_CHECKED_HEADER, &actual);
        return;
    }
    let listed = read_list(EXPECT_CHECKED_LIST);
    let mut problems = Vec::new();
    for path in listed.keys().chain(actual.keys()).collect::<BTreeSet<_>>() {
        let was = listed.get(path).copied().unwrap_or(0);
        let now = actual.get(path).copied().unwrap_or(0);
        if now > was {
            problems.push(format!(
                "{path}: {now} `expect(\"checked\")`, {was} allowed: make the validator return \
                 a type that execution cannot reject instead of adding one"
            ));
        } else if now < was {
            let fix = if now == 0 {
                format!("delete the line `{path} {was}`")
            } else {
                format!("lower `{path} {was}` to `{path} {now}`")
            };
            problems.push(format!(
                "{path}: {now} `expect(\"checked\")`, {was} listed: good, now {fix} in \
                 {EXPECT_CHECKED_LIST} (or run `TIDY_UPDATE=1 cargo test --test tidy`)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

const LONG_FUNCTIONS_HEADER: &str = "\
# Functions over 70 lines (from the `fn` line to the closing brace) in non-test code: the
# ratchet of tests/tidy.rs. A listed function may not grow and no other may pass 70 lines;
# when one is split or deleted its line must go. Lower the list with
# `TIDY_UPDATE=1 cargo test --test tidy` and check that the diff only shrinks.
";

#[test]
fn long_functions_only_shrink() {
    let mut actual: BTreeMap<String, usize> = BTreeMap::new();
    for (path, text) in non_test_files() {
        for function in functions(&text) {
            if function.lines > FUNCTION_LINES_MAX {
                // Two same-named functions in one file (in two `impl`s of one type, or nested
                // in two functions) share a line: the longer counts.
                let entry = actual
                    .entry(format!("{path}::{}", function.name))
                    .or_default();
                *entry = (*entry).max(function.lines);
            }
        }
    }
    if updating() {
        write_list(LONG_FUNCTIONS_LIST, LONG_FUNCTIONS_HEADER, &actual);
        return;
    }
    let listed = read_list(LONG_FUNCTIONS_LIST);
    let mut problems = Vec::new();
    for (key, &now) in &actual {
        match listed.get(key) {
            None => problems.push(format!(
                "{key} has {now} lines, over {FUNCTION_LINES_MAX}: split it (TIGER_STYLE: a \
                 function fits on a screen); the list of exceptions only shrinks"
            )),
            Some(&was) if now > was => problems.push(format!(
                "{key} grew from {was} to {now} lines: split it instead of growing it"
            )),
            Some(_) => {}
        }
    }
    for (key, &was) in &listed {
        if !actual.contains_key(key) {
            problems.push(format!(
                "{key} ({was} lines listed) is now at most {FUNCTION_LINES_MAX} lines or gone: \
                 good, now delete its line from {LONG_FUNCTIONS_LIST} (or run \
                 `TIDY_UPDATE=1 cargo test --test tidy`)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// A small Rust scanner: enough to find functions and their extent.

struct Function {
    name: String,
    lines: usize,
}

/// The functions with a body in non-test code of `text` (items under `#[cfg(test)]` are
/// skipped), each with its length from the `fn` line to the closing brace.
fn functions(text: &str) -> Vec<Function> {
    let code = mask(text);
    let test_ranges = cfg_test_ranges(&code);
    let owners = owner_ranges(&code);
    let mut functions = Vec::new();
    let mut at = 0;
    while let Some(found) = find_word(&code, "fn", at) {
        at = found + 2;
        if test_ranges.iter().any(|r| r.contains(&found)) {
            continue;
        }
        let rest = &code[at..];
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|&c| is_ident(c))
            .collect();
        if name.is_empty() {
            // A function pointer type (`fn(u8) -> u8`) or a macro's `fn $name`.
            continue;
        }
        let Some(open) = body_start(&code, at) else {
            continue; // A declaration without a body.
        };
        let Some(close) = matching_brace(&code, open) else {
            continue;
        };
        let lines = code[found..close].matches('\n').count() + 1;
        // Methods are named by their type (`Topology::new`), so that same-named methods of
        // one file stay apart.
        let name = match owners
            .iter()
            .rev()
            .find(|(range, _)| range.contains(&found))
        {
            Some((_, owner)) => format!("{owner}::{name}"),
            None => name,
        };
        functions.push(Function { name, lines });
    }
    functions
}

/// The bodies of `impl` and `trait` items, each with the type or trait it is for, in source
/// order (an inner item's range comes after its outer one's).
fn owner_ranges(code: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut owners = Vec::new();
    for keyword in ["impl", "trait"] {
        let mut at = 0;
        while let Some(found) = find_word(code, keyword, at) {
            at = found + keyword.len();
            // An item, not `-> impl Trait` or `x: impl Trait`: what precedes ends an item or
            // an attribute, or opens a block.
            let before = code[..found].trim_end();
            let item = before.is_empty()
                || before.ends_with(['}', ';', ']', '{'])
                || before.ends_with("unsafe")
                || before.ends_with("pub");
            let Some(open) = item.then(|| body_start(code, at)).flatten() else {
                continue;
            };
            let Some(close) = matching_brace(code, open) else {
                continue;
            };
            let header = skip_generics(code[at..open].trim_start());
            let header = match header.split_once(" for ") {
                Some((_, for_type)) => for_type,
                None => header,
            };
            let header = header.split(" where").next().unwrap_or(header);
            let before_generics = header.split('<').next().unwrap_or(header);
            let owner = before_generics
                .rsplit(|c: char| !is_ident(c))
                .find(|piece| !piece.is_empty())
                .unwrap_or("?");
            owners.push((open..close + 1, owner.to_string()));
        }
    }
    owners.sort_by_key(|(range, _)| range.start);
    owners
}

/// `header` without the generic parameters it starts with (`<T: Fn() -> u8>`).
fn skip_generics(header: &str) -> &str {
    if !header.starts_with('<') {
        return header;
    }
    let mut depth = 0;
    let mut previous = ' ';
    for (i, c) in header.char_indices() {
        match c {
            '<' => depth += 1,
            '>' if previous != '-' => {
                depth -= 1;
                if depth == 0 {
                    return &header[i + 1..];
                }
            }
            _ => {}
        }
        previous = c;
    }
    header
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The next occurrence of the keyword `word` at or after byte `from`, as a whole word.
fn find_word(code: &str, word: &str, mut from: usize) -> Option<usize> {
    while let Some(i) = code[from..].find(word).map(|i| i + from) {
        let before = code[..i].chars().next_back();
        let after = code[i + word.len()..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return Some(i);
        }
        from = i + word.len();
    }
    None
}

/// The `{` that opens the item whose header starts at `from`, or `None` if a `;` at depth 0
/// ends it first.
fn body_start(code: &str, from: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in code[from..].char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '{' if depth == 0 => return Some(from + i),
            ';' if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

fn matching_brace(code: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Byte ranges of the items marked `#[cfg(test)]` (test modules, test-only functions).
fn cfg_test_ranges(code: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(i) = code[from..].find("#[cfg(test)]").map(|i| i + from) {
        from = i + 1;
        let Some(open) = body_start(code, i + "#[cfg(test)]".len()) else {
            continue; // `mod tests;`: that file is checked as a test module below.
        };
        if let Some(close) = matching_brace(code, open) {
            ranges.push(i..close + 1);
        }
    }
    ranges
}

/// `text` with the contents of comments and string, byte-string and char literals replaced
/// by spaces (newlines kept), so that braces and keywords in them do not count.
fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Blanks chars[from..to], keeping newlines.
    let blank = |out: &mut String, from: usize, to: usize| {
        for &c in &chars[from..to] {
            out.push(if c == '\n' { '\n' } else { ' ' });
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let ident_before = i > 0 && is_ident(chars[i - 1]);
        if c == '/' && next == Some('/') {
            let end = chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            let mut j = i;
            while j < chars.len() {
                if chars[j] == '/' && chars.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if chars[j] == '*' && chars.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if !ident_before && let Some((start, hashes)) = raw_string_start(&chars, i) {
            // r"…", r#"…"#, br"…", cr"…": no escapes; ends at `"` followed by the hashes.
            let mut j = start + 1;
            while j < chars.len() {
                if chars[j] == '"' && chars[j + 1..].iter().take(hashes).all(|&h| h == '#') {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            let j = j.min(chars.len());
            blank(&mut out, i, j);
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let j = (j + 1).min(chars.len());
            blank(&mut out, i, j);
            i = j;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{7f}') or a lifetime / label ('a).
            let end = if next == Some('\\') {
                // Past the escaped character, which may itself be a quote.
                chars[i + 3..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|p| i + 3 + p + 1)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match end {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// If a raw string literal starts at `i` (`r`, `br` or `cr`, hashes, `"`): the index of its
/// opening quote and the number of hashes.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if matches!(chars[j], 'b' | 'c') && chars.get(j + 1) == Some(&'r') {
        j += 1;
    }
    if chars[j] != 'r' {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|&&c| c == '#').count();
    (chars.get(j + hashes) == Some(&'"')).then_some((j + hashes, hashes))
}

#[test]
fn the_scanner_ignores_literals_and_comments() {
    let text = r##"
fn one() {
    let s = "}"; // }
    let c = '}';
    let r = r#"}"#;
    /* } /* } */ } */
    let l: &'static str = "";
}
fn two(f: fn(u8) -> u8) -> impl Fn() { move || { f(1); } }
trait T { fn declared(&self); fn provided(&self) {} }
impl<F: Fn() -> u8> T for Wrapper<'_, F> where F: Copy { fn declared(&self) {} }
#[cfg(test)]
mod tests {
    fn hidden() {}
}
"##;
    let found: Vec<(String, usize)> = functions(text)
        .into_iter()
        .map(|f| (f.name, f.lines))
        .collect();
    let expected = [
        ("one", 7),
        ("two", 1),
        ("T::provided", 1),
        ("Wrapper::declared", 1),
    ];
    let expected: Vec<(String, usize)> = expected
        .into_iter()
        .map(|(name, lines)| (name.to_string(), lines))
        .collect();
    assert_eq!(found, expected);
}

/// Modules of the engine that may depend on each other both ways: the value types and the
/// errors (an error can carry the item a failed condition read; values build errors). The
/// design review of 2026-12 found two module cycles (`table` ↔ `index` ↔ `capacity`, and this
/// one); the first is gone and must not come back.
const ENGINE_CYCLES_ALLOWED: [&str; 2] = ["error", "types"];

/// The engine's module graph from every `crate::` path in non-test code: module `a` depends on
/// `b` when `a`'s file names an item of `b`. Edges into the `engine` facade (`Engine`, the type
/// every operation takes) do not count: the facade dispatches to the operations and they run on
/// it, which is the one cycle the layout has by design.
#[test]
fn engine_modules_have_no_cycles() {
    let files: Vec<(String, String)> = non_test_files()
        .into_iter()
        .filter(|(path, _)| path.starts_with("engine/src/"))
        .collect();
    let module_of = |path: &str| -> String {
        let inner = path
            .trim_start_matches("engine/src/")
            .trim_end_matches(".rs");
        let inner = inner.trim_end_matches("/mod");
        inner.replace('/', "::")
    };
    let modules: BTreeSet<String> = files.iter().map(|(p, _)| module_of(p)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in &files {
        let from = module_of(path);
        let mut code = mask(text);
        for range in cfg_test_ranges(&code).into_iter().rev() {
            code.replace_range(range.clone(), &" ".repeat(range.len()));
        }
        let mut at = 0;
        while let Some(found) = code[at..].find("crate::") {
            let start = at + found + "crate::".len();
            let path: String = code[start..]
                .chars()
                .take_while(|c| is_ident(*c) || *c == ':')
                .collect();
            at = start;
            // The longest known module that the path starts with.
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let target = (1..=segments.len())
                .rev()
                .map(|n| segments[..n].join("::"))
                .find(|m| modules.contains(m));
            if let Some(target) = target
                && target != from
                && target != "engine"
                && target != "lib"
            {
                edges.entry(from.clone()).or_default().insert(target);
            }
        }
    }
    let cycles = cycles_in(&edges);
    assert!(
        cycles.is_empty(),
        "module cycles in the engine (move the shared type to the lower module, or pass it in):\n{}",
        cycles.join("\n")
    );
    assert!(
        edges
            .get("data::table")
            .is_some_and(|e| e.contains("data::index")),
        "the scan found the engine's module graph (data::table uses data::index)"
    );
}

/// Every cycle of `edges` (one per module it passes through) that leaves the allowed cluster.
fn cycles_in(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let allowed = |module: &str| {
        ENGINE_CYCLES_ALLOWED
            .iter()
            .any(|a| module == *a || module.starts_with(&format!("{a}::")))
    };
    let mut cycles = Vec::new();
    for start in edges.keys() {
        // A path from a successor of `start` back to `start` is a cycle through it.
        let mut stack: Vec<(String, Vec<String>)> = edges[start]
            .iter()
            .map(|next| (next.clone(), vec![start.clone(), next.clone()]))
            .collect();
        let mut seen = BTreeSet::new();
        while let Some((module, trail)) = stack.pop() {
            if module == *start {
                if !trail.iter().all(|m| allowed(m)) {
                    cycles.push(trail.join(" -> "));
                }
                break;
            }
            if !seen.insert(module.clone()) {
                continue;
            }
            for next in edges.get(&module).into_iter().flatten() {
                let mut longer = trail.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    cycles
}

#[test]
fn the_cycle_check_finds_a_cycle_and_allows_the_leaf_cluster() {
    let graph = |pairs: &[(&str, &str)]| {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            edges
                .entry(a.to_string())
                .or_default()
                .insert(b.to_string());
        }
        edges
    };
    let broken = graph(&[
        ("data::table", "data::index"),
        ("data::index", "capacity"),
        ("capacity", "data::table"),
    ]);
    assert_eq!(
        cycles_in(&broken).len(),
        3,
        "one report per module on the cycle"
    );
    let leaf = graph(&[
        ("error", "types::item"),
        ("types::item", "types::value"),
        ("types::value", "error"),
    ]);
    assert!(cycles_in(&leaf).is_empty(), "error <-> types is allowed");
    let acyclic = graph(&[("ops", "data::table"), ("data::table", "data::index")]);
    assert!(cycles_in(&acyclic).is_empty());
}
