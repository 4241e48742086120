//! The request-decoder fuzz target's check function under `cargo test`: proptest over valid
//! requests with one member replaced by arbitrary JSON, over arbitrary bytes, and a replay of
//! the saved corpus.

use dynasim_server::fuzzing::{OPERATIONS, check_request, fixture};
use proptest::prelude::*;
use std::path::Path;

const TEMPLATES: &[&str] = &[
    r#"{"TableName":"tbl","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},"ProjectionExpression":"v[0]"}"#,
    r#"{"TableName":"tbl","Item":{"pk":{"S":"b"},"sk":{"N":"2"}},"ConditionExpression":"attribute_not_exists(pk)"}"#,
    r#"{"TableName":"tbl","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"S":"a"}},"Limit":1}"#,
    r#"{"TableName":"tbl","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},"UpdateExpression":"ADD c :one","ExpressionAttributeValues":{":one":{"N":"1"}}}"#,
    r#"{"RequestItems":{"tbl":{"Keys":[{"pk":{"S":"a"},"sk":{"N":"1"}}]}}}"#,
];

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[ -~]{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::json!({"S": ""})),
        Just(serde_json::json!({"N": "1e999"})),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[A-Za-z:#]{1,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn mutated_requests_get_well_formed_answers(
        template in 0..TEMPLATES.len(),
        operation in 0..OPERATIONS.len(),
        member in "[A-Za-z]{1,24}",
        pick in any::<prop::sample::Index>(),
        value in json_value(),
    ) {
        let service = fixture();
        let mut body: serde_json::Value = serde_json::from_str(TEMPLATES[template]).unwrap();
        let object = body.as_object_mut().unwrap();
        // Replace an existing member, or add a new one.
        let keys: Vec<String> = object.keys().cloned().collect();
        let name = if member.len() % 2 == 0 { keys[pick.index(keys.len())].clone() } else { member };
        object.insert(name, value);
        let mut data = vec![operation as u8];
        data.extend(serde_json::to_vec(&body).unwrap());
        check_request(&service, &data);
    }

    #[test]
    fn arbitrary_bodies_get_well_formed_answers(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_request(&fixture(), &data);
    }
}

#[test]
fn saved_corpus_replays_cleanly() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/requests");
    let service = fixture();
    let mut count = 0;
    for entry in std::fs::read_dir(&directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            check_request(&service, &std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count > 0, "the requests corpus is empty");
}
