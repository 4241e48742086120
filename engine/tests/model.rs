//! The engine against an obviously correct reference model, over random operation sequences.
//!
//! The model is a `BTreeMap` from (partition, sort) to an item, with conditions and counters
//! written out longhand. The engine runs with tiny pages (a few hundred bytes) so that every
//! Query and Scan is paged, and the concatenated pages must equal the model's answer.

use dynasim_engine::api::*;
use dynasim_engine::limits::Limits;
use dynasim_engine::{Config, Engine, Error, ErrorKind, Item, Value};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

const TABLE: &str = "model";

#[derive(Clone, Debug)]
enum Op {
    Put {
        pk: u8,
        sk: i8,
        data: String,
        only_if_absent: bool,
        g: Option<u8>,
    },
    Delete {
        pk: u8,
        sk: i8,
    },
    Increment {
        pk: u8,
        sk: i8,
        by: i16,
    },
    Get {
        pk: u8,
        sk: i8,
    },
    Query {
        pk: u8,
        above: Option<i8>,
        forward: bool,
        limit: Option<u8>,
    },
    Scan {
        limit: Option<u8>,
        segments: u8,
    },
    /// Query the GSI `by_g` (hash `g`, range `sk`, projection ALL).
    QueryGsi {
        g: u8,
        forward: bool,
        limit: Option<u8>,
    },
    /// Query the LSI `by_n` (hash `pk`, range `n`, projection KEYS_ONLY).
    QueryLsi {
        pk: u8,
        forward: bool,
        limit: Option<u8>,
    },
    /// Scan the GSI.
    ScanGsi {
        limit: Option<u8>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let pk = 0u8..4;
    let sk = -5i8..6;
    prop_oneof![
        (
            pk.clone(),
            sk.clone(),
            "[a-z]{0,40}",
            any::<bool>(),
            proptest::option::of(0u8..3)
        )
            .prop_map(|(pk, sk, data, only_if_absent, g)| Op::Put {
                pk,
                sk,
                data,
                only_if_absent,
                g
            }),
        (pk.clone(), sk.clone()).prop_map(|(pk, sk)| Op::Delete { pk, sk }),
        (pk.clone(), sk.clone(), -100i16..100).prop_map(|(pk, sk, by)| Op::Increment {
            pk,
            sk,
            by
        }),
        (pk.clone(), sk.clone()).prop_map(|(pk, sk)| Op::Get { pk, sk }),
        (
            pk,
            proptest::option::of(sk),
            any::<bool>(),
            proptest::option::of(1u8..4)
        )
            .prop_map(|(pk, above, forward, limit)| Op::Query {
                pk,
                above,
                forward,
                limit
            }),
        (proptest::option::of(1u8..5), 1u8..4)
            .prop_map(|(limit, segments)| Op::Scan { limit, segments }),
        (0u8..3, any::<bool>(), proptest::option::of(1u8..4))
            .prop_map(|(g, forward, limit)| Op::QueryGsi { g, forward, limit }),
        (0u8..4, any::<bool>(), proptest::option::of(1u8..4))
            .prop_map(|(pk, forward, limit)| Op::QueryLsi { pk, forward, limit }),
        proptest::option::of(1u8..5).prop_map(|limit| Op::ScanGsi { limit }),
    ]
}

/// The reference: items by (partition, sort), each a map of attributes.
#[derive(Default)]
struct Model {
    items: BTreeMap<(String, i64), Item>,
}

fn key_values(pk: u8, sk: i8) -> (String, i64) {
    (format!("p{pk}"), i64::from(sk))
}

fn item_of(pk: &str, sk: i64, extra: &[(&str, Value)]) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), Value::s(pk));
    item.insert("sk".into(), Value::n(&sk.to_string()));
    for (k, v) in extra {
        item.insert(k.to_string(), v.clone());
    }
    item
}

/// An engine whose partitions split past `partition_bytes`: the model must not see the
/// difference between one partition and many.
fn engine(partition_bytes: u64) -> Engine {
    let limits = Limits {
        page_size_bytes_max: 200,
        partition_size_bytes_max: partition_bytes,
        ..Limits::default()
    };
    let mut engine = Engine::new(Config {
        limits,
        ..Config::default()
    });
    let create: CreateTableInput = serde_json::from_value(json!({
        "TableName": TABLE,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"},
                                 {"AttributeName": "g", "AttributeType": "S"}, {"AttributeName": "n", "AttributeType": "N"}],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [{"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                                    "Projection": {"ProjectionType": "ALL"}}],
        "LocalSecondaryIndexes": [{"IndexName": "by_n", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
                                   "Projection": {"ProjectionType": "KEYS_ONLY"}}]
    }))
    .unwrap();
    engine.execute(Request::CreateTable(create), 0).unwrap();
    engine
}

fn key_json(pk: &str, sk: i64) -> serde_json::Value {
    json!({"pk": {"S": pk}, "sk": {"N": sk.to_string()}})
}

fn run(engine: &mut Engine, request: Request) -> Result<Response, Error> {
    engine.execute(request, 1)
}

/// Pages through a Query or Scan to the end and returns every item.
fn all_pages(engine: &mut Engine, mut input: serde_json::Value, scan: bool) -> Vec<Item> {
    let mut items = Vec::new();
    for _ in 0..1000 {
        let decoded: QueryInput = serde_json::from_value(input.clone()).unwrap();
        let request = if scan {
            Request::Scan(decoded)
        } else {
            Request::Query(decoded)
        };
        let Ok(Response::Query(page)) = run(engine, request) else {
            panic!("query failed")
        };
        items.extend(page.items.unwrap());
        match page.last_evaluated_key {
            Some(key) => input["ExclusiveStartKey"] = serde_json::to_value(key).unwrap(),
            None => return items,
        }
    }
    panic!("paging did not finish");
}

fn apply(model: &mut Model, engine: &mut Engine, op: &Op) {
    match op {
        Op::Put {
            pk,
            sk,
            data,
            only_if_absent,
            g,
        } => {
            let (pk, sk) = key_values(*pk, *sk);
            let mut input = json!({"TableName": TABLE, "Item": {"pk": {"S": pk}, "sk": {"N": sk.to_string()}, "data": {"S": data}}, "ReturnValues": "ALL_OLD"});
            let mut extra = vec![("data", Value::s(data.clone()))];
            if let Some(g) = g {
                input["Item"]["g"] = json!({"S": format!("g{g}")});
                extra.push(("g", Value::s(format!("g{g}"))));
            }
            if *only_if_absent {
                input["ConditionExpression"] = json!("attribute_not_exists(pk)");
            }
            let result = run(
                engine,
                Request::PutItem(serde_json::from_value(input).unwrap()),
            );
            let old = model.items.get(&(pk.clone(), sk)).cloned();
            if *only_if_absent && old.is_some() {
                assert_eq!(result.unwrap_err().kind, ErrorKind::ConditionalCheckFailed);
            } else {
                let Ok(Response::Item(output)) = result else {
                    panic!("put failed: {result:?}")
                };
                assert_eq!(output.attributes, old);
                model
                    .items
                    .insert((pk.clone(), sk), item_of(&pk, sk, &extra));
            }
        }
        Op::Delete { pk, sk } => {
            let (pk, sk) = key_values(*pk, *sk);
            let input =
                json!({"TableName": TABLE, "Key": key_json(&pk, sk), "ReturnValues": "ALL_OLD"});
            let Ok(Response::Item(output)) = run(
                engine,
                Request::DeleteItem(serde_json::from_value(input).unwrap()),
            ) else {
                panic!()
            };
            assert_eq!(output.attributes, model.items.remove(&(pk, sk)));
        }
        Op::Increment { pk, sk, by } => {
            let (pk, sk) = key_values(*pk, *sk);
            let input = json!({"TableName": TABLE, "Key": key_json(&pk, sk), "UpdateExpression": "SET n = if_not_exists(n, :zero) + :by",
                "ExpressionAttributeValues": {":zero": {"N": "0"}, ":by": {"N": by.to_string()}}, "ReturnValues": "UPDATED_NEW"});
            let Ok(Response::Item(output)) = run(
                engine,
                Request::UpdateItem(serde_json::from_value(input).unwrap()),
            ) else {
                panic!()
            };
            let entry = model
                .items
                .entry((pk.clone(), sk))
                .or_insert_with(|| item_of(&pk, sk, &[]));
            let current = match entry.get("n") {
                Some(Value::N(n)) => n.to_i64().unwrap(),
                _ => 0,
            };
            let next = Value::n(&(current + i64::from(*by)).to_string());
            entry.insert("n".into(), next.clone());
            assert_eq!(
                output.attributes,
                Some(BTreeMap::from([("n".to_string(), next)]))
            );
        }
        Op::Get { pk, sk } => {
            let (pk, sk) = key_values(*pk, *sk);
            let input =
                json!({"TableName": TABLE, "Key": key_json(&pk, sk), "ConsistentRead": true});
            let Ok(Response::Item(output)) = run(
                engine,
                Request::GetItem(serde_json::from_value(input).unwrap()),
            ) else {
                panic!()
            };
            assert_eq!(output.item, model.items.get(&(pk, sk)).cloned());
        }
        Op::Query {
            pk,
            above,
            forward,
            limit,
        } => {
            let (pk, _) = key_values(*pk, 0);
            let mut input = json!({"TableName": TABLE, "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": pk}}, "ScanIndexForward": forward});
            if let Some(above) = above {
                input["KeyConditionExpression"] = json!("pk = :p AND sk > :s");
                input["ExpressionAttributeValues"][":s"] = json!({"N": above.to_string()});
            }
            if let Some(limit) = limit {
                input["Limit"] = json!(limit);
            }
            let got = all_pages(engine, input, false);
            let mut expected: Vec<Item> = model
                .items
                .iter()
                .filter(|((p, s), _)| *p == pk && above.is_none_or(|a| *s > i64::from(a)))
                .map(|(_, item)| item.clone())
                .collect();
            if !forward {
                expected.reverse();
            }
            assert_eq!(got, expected);
        }
        Op::Scan { limit, segments } => {
            let mut got = Vec::new();
            for segment in 0..*segments {
                let mut input =
                    json!({"TableName": TABLE, "Segment": segment, "TotalSegments": segments});
                if let Some(limit) = limit {
                    input["Limit"] = json!(limit);
                }
                got.extend(all_pages(engine, input, true));
            }
            let key = |item: &Item| (item["pk"].clone(), item["sk"].clone());
            got.sort_by_key(|i| format!("{:?}", key(i)));
            let mut expected: Vec<Item> = model.items.values().cloned().collect();
            expected.sort_by_key(|i| format!("{:?}", key(i)));
            assert_eq!(got, expected);
        }
        Op::QueryGsi { g, forward, limit } => {
            let g = format!("g{g}");
            let mut input = json!({"TableName": TABLE, "IndexName": "by_g", "KeyConditionExpression": "g = :g",
                "ExpressionAttributeValues": {":g": {"S": g}}, "ScanIndexForward": forward});
            if let Some(limit) = limit {
                input["Limit"] = json!(limit);
            }
            let got = all_pages(engine, input, false);
            let expected: Vec<Item> = model
                .items
                .values()
                .filter(|i| i.get("g") == Some(&Value::s(g.clone())))
                .cloned()
                .collect();
            assert_index_order(&got, &expected, "sk", *forward);
        }
        Op::QueryLsi { pk, forward, limit } => {
            let (pk, _) = key_values(*pk, 0);
            let mut input = json!({"TableName": TABLE, "IndexName": "by_n", "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": pk}}, "ScanIndexForward": forward});
            if let Some(limit) = limit {
                input["Limit"] = json!(limit);
            }
            let got = all_pages(engine, input, false);
            // KEYS_ONLY: table keys and the index key; items without `n` are not in the index.
            let expected: Vec<Item> = model
                .items
                .iter()
                .filter(|((p, _), item)| *p == pk && item.contains_key("n"))
                .map(|(_, item)| {
                    item.iter()
                        .filter(|(k, _)| ["pk", "sk", "n"].contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .collect();
            assert_index_order(&got, &expected, "n", *forward);
        }
        Op::ScanGsi { limit } => {
            let mut input = json!({"TableName": TABLE, "IndexName": "by_g"});
            if let Some(limit) = limit {
                input["Limit"] = json!(limit);
            }
            let got = all_pages(engine, input, true);
            let expected: Vec<Item> = model
                .items
                .values()
                .filter(|i| i.contains_key("g"))
                .cloned()
                .collect();
            assert_same_items(got, expected);
        }
    }
}

/// Index results must be ordered by the index sort key (ties in any order) and hold exactly
/// the expected items.
fn assert_index_order(got: &[Item], expected: &[Item], sort: &str, forward: bool) {
    for pair in got.windows(2) {
        let ordering = pair[0][sort].compare(&pair[1][sort]).unwrap();
        if forward {
            assert_ne!(ordering, std::cmp::Ordering::Greater, "index order");
        } else {
            assert_ne!(ordering, std::cmp::Ordering::Less, "index order");
        }
    }
    assert_same_items(got.to_vec(), expected.to_vec());
}

fn assert_same_items(mut got: Vec<Item>, mut expected: Vec<Item>) {
    got.sort_by_key(|i| format!("{i:?}"));
    expected.sort_by_key(|i| format!("{i:?}"));
    assert_eq!(got, expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn engine_matches_the_reference_model(
        ops in proptest::collection::vec(op(), 1..60),
        partition_bytes in prop_oneof![Just(u64::MAX), Just(120u64), Just(400u64)],
    ) {
        let mut model = Model::default();
        let mut engine = engine(partition_bytes);
        for op in &ops {
            apply(&mut model, &mut engine, op);
        }
    }
}
