//! Shard iterators: opaque strings in AWS's shape (`<stream ARN>|1|<token>`) that carry the
//! shard, the position of the next record to read and the time the iterator was issued.
//! The token is base64 of those fields and a checksum, so an iterator that was altered or
//! made up is refused rather than misread.

use base64::Engine as _;

/// Where a reader is: the next record it reads has a sequence number of at least `position`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardIterator {
    pub stream_arn: String,
    pub shard_id: String,
    pub position: u64,
    pub issued_ms: u64,
}

const VERSION: &str = "1";

fn checksum(shard_id: &str, position: u64, issued_ms: u64, arn: &str) -> u32 {
    let text = format!("{arn}\0{shard_id}\0{position}\0{issued_ms}");
    xxhash_rust::xxh3::xxh3_64(text.as_bytes()) as u32
}

impl ShardIterator {
    pub fn encode(&self) -> String {
        let sum = checksum(
            &self.shard_id,
            self.position,
            self.issued_ms,
            &self.stream_arn,
        );
        let token = format!(
            "{}:{}:{}:{sum:08x}",
            self.shard_id, self.position, self.issued_ms
        );
        let token = base64::engine::general_purpose::STANDARD.encode(token);
        format!("{}|{VERSION}|{token}", self.stream_arn)
    }

    /// The iterator `text` encodes, or `None` if it is not one this engine issued.
    pub fn decode(text: &str) -> Option<ShardIterator> {
        let (rest, token) = text.rsplit_once('|')?;
        let (stream_arn, version) = rest.rsplit_once('|')?;
        if version != VERSION {
            return None;
        }
        let token = base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()?;
        let token = String::from_utf8(token).ok()?;
        let mut fields = token.rsplitn(4, ':');
        let sum = u32::from_str_radix(fields.next()?, 16).ok()?;
        let issued_ms = fields.next()?.parse().ok()?;
        let position = fields.next()?.parse().ok()?;
        let shard_id = fields.next()?.to_string();
        (checksum(&shard_id, position, issued_ms, stream_arn) == sum).then(|| ShardIterator {
            stream_arn: stream_arn.to_string(),
            shard_id,
            position,
            issued_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterators_read_back_and_altered_ones_do_not() {
        let it = ShardIterator {
            stream_arn:
                "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026-12-02T00:00:00.000"
                    .into(),
            shard_id: "shardId-00000001796169600000-0a1b2c3d".into(),
            position: 42,
            issued_ms: 1_796_169_600_000,
        };
        let text = it.encode();
        assert!(text.starts_with(&format!("{}|1|", it.stream_arn)));
        assert_eq!(ShardIterator::decode(&text), Some(it.clone()));
        let forged = ShardIterator {
            position: 41,
            ..it.clone()
        }
        .encode();
        let (_, forged_token) = forged.rsplit_once('|').unwrap();
        let (head, _) = text.rsplit_once('|').unwrap();
        // The other iterator's token under this ARN still reads back (it is consistent)...
        assert!(ShardIterator::decode(&format!("{head}|{forged_token}")).is_some());
        // ...but a token with one character changed, or garbage, does not.
        let mut bytes = text.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            ShardIterator::decode(&String::from_utf8(bytes).unwrap()),
            None
        );
        assert_eq!(ShardIterator::decode("garbage"), None);
        assert_eq!(ShardIterator::decode(""), None);
        let other_arn = text.replacen("table/t/", "table/u/", 1);
        assert_eq!(ShardIterator::decode(&other_arn), None);
    }
}
