//! The fuzz targets' check functions under `cargo test`: proptest over strings built from the
//! expression languages' own tokens (so most inputs get past the lexer), over arbitrary
//! strings, and a replay of every file in the saved corpora under `fuzz/corpus/`.

use dynasim_engine::fuzzing::{
    check_condition, check_expression_bytes, check_projection, check_update,
};
use proptest::prelude::*;
use std::path::Path;

const TOKENS: &[&str] = &[
    "a",
    "b",
    "#n",
    "#m",
    ":v",
    ":w",
    ".",
    "[0]",
    "[3]",
    "(",
    ")",
    ",",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "size",
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "if_not_exists",
    "list_append",
    "comment",
    "n1",
];

fn token_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TOKENS), 0..24)
        .prop_map(|tokens| tokens.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn conditions_never_panic(text in token_text()) {
        check_condition(&text);
    }

    #[test]
    fn updates_never_panic(text in token_text()) {
        check_update(&format!("SET {text}"));
        check_update(&text);
    }

    #[test]
    fn projections_never_panic(text in token_text()) {
        check_projection(&text);
    }

    #[test]
    fn arbitrary_text_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_expression_bytes(&data);
    }
}

fn replay(target: &str, check: impl Fn(&[u8])) -> usize {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in
        std::fs::read_dir(&directory).unwrap_or_else(|e| panic!("{}: {e}", directory.display()))
    {
        let path = entry.unwrap().path();
        if path.is_file() {
            check(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    count
}

#[test]
fn saved_corpora_replay_cleanly() {
    let as_text = |check: fn(&str)| {
        move |data: &[u8]| {
            if let Ok(text) = std::str::from_utf8(data) {
                check(text);
            }
        }
    };
    assert!(
        replay("expressions", check_expression_bytes) > 0,
        "the expressions corpus is empty"
    );
    assert!(replay("condition_expression", as_text(check_condition)) > 0);
    assert!(replay("update_expression", as_text(check_update)) > 0);
    assert!(replay("projection_expression", as_text(check_projection)) > 0);
}
