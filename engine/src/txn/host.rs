//! The engine's side of transactions: a participant per table (stored keys), the ledger, the
//! timestamps the engine hands out, and the ClientRequestToken window.

use super::{Ledger, Participant, ParticipantBug, Refusal, Timestamp, TxId};
use std::collections::BTreeMap;

/// How long a ClientRequestToken is remembered after its transaction completed (doc: 10
/// minutes).
pub(crate) const TOKEN_WINDOW_MS: u64 = 10 * 60 * 1000;

/// Stamps kept per table before the oldest are folded into the floor.
const STAMPS_KEPT: usize = 4096;

/// What a ClientRequestToken says of a new request.
#[derive(Debug)]
pub(crate) enum TokenCheck {
    /// Unknown (or expired): run the transaction.
    New,
    /// The same request committed: answer again, without writing.
    Replay,
    /// The same token with different parameters.
    Mismatch,
    /// The same token while its transaction is still running.
    InProgress,
}

#[derive(Debug, Clone)]
struct Token {
    fingerprint: u64,
    /// The transaction committed (a token is remembered only for a success).
    committed: bool,
    completed_ms: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Transactions {
    participants: BTreeMap<String, Participant<Box<[u8]>>>,
    pub(crate) ledger: Ledger,
    next_tx: TxId,
    last: Timestamp,
    tokens: BTreeMap<String, Token>,
    pub(crate) bug: ParticipantBug,
}

impl Transactions {
    /// A fresh timestamp from the engine's clock: never older than one handed out before.
    pub(crate) fn timestamp(&mut self, now_ms: u64) -> Timestamp {
        let micros = now_ms.saturating_mul(1000);
        self.last = if micros > self.last.micros {
            Timestamp::new(micros, 0, 0)
        } else {
            self.last.successor()
        };
        self.last
    }

    /// Begins a transaction of `actions` actions in the ledger: its id and timestamp.
    pub(crate) fn begin(&mut self, actions: usize, now_ms: u64) -> (TxId, Timestamp) {
        self.next_tx += 1;
        let ts = self.timestamp(now_ms);
        self.ledger.begin(self.next_tx, ts, actions);
        (self.next_tx, ts)
    }

    fn participant(&mut self, table: &str) -> &mut Participant<Box<[u8]>> {
        let bug = self.bug;
        self.participants
            .entry(table.to_string())
            .or_insert_with(|| Participant::with_bug(bug))
    }

    pub(crate) fn prepare(
        &mut self,
        table: &str,
        key: &[u8],
        tx: TxId,
        ts: Timestamp,
    ) -> Result<(), Refusal> {
        self.participant(table).prepare(&key.into(), tx, ts)
    }

    /// Commits the transaction's mark on the item; true if its write applies.
    pub(crate) fn commit(&mut self, table: &str, key: &[u8], tx: TxId, ts: Timestamp) -> bool {
        let participant = self.participant(table);
        let applied = participant.commit(&key.into(), tx, ts) == super::Applied::Write;
        if participant.stamps_len() > STAMPS_KEPT {
            participant.prune(ts);
        }
        applied
    }

    pub(crate) fn cancel(&mut self, table: &str, key: &[u8], tx: TxId, ts: Timestamp) {
        let participant = self.participant(table);
        participant.cancel(&key.into(), tx, ts);
        if participant.stamps_len() > STAMPS_KEPT {
            participant.prune(ts);
        }
    }

    /// A single-item write's check: refused while a transaction holds the item. No stamp is
    /// kept for it: the engine orders its single-item writes under its lock and its own
    /// transactions take timestamps after every one of them, so none can be older.
    pub(crate) fn single_write(&mut self, table: &str, key: &[u8]) -> Result<(), Refusal> {
        match self.participants.get(table) {
            Some(p) if p.has_marks() => match p.mark(&key.into()) {
                Some(mark) => Err(Refusal::Prepared(mark.tx)),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// A read-only transaction's read: refused while a transaction holds the item; else
    /// the item's stamp.
    pub(crate) fn read(&self, table: &str, key: &[u8]) -> Result<Timestamp, Refusal> {
        match self.participants.get(table) {
            Some(p) => p.read(&key.into()),
            None => Ok(Timestamp::ZERO),
        }
    }

    /// Whether a transaction holds the item (the TTL sweep leaves it for a later pass).
    pub(crate) fn is_prepared(&self, table: &str, key: &[u8]) -> bool {
        self.participants
            .get(table)
            .is_some_and(|p| p.has_marks() && p.mark(&key.into()).is_some())
    }

    /// A deleted table's participant goes with it.
    pub(crate) fn drop_table(&mut self, table: &str) {
        self.participants.remove(table);
    }

    /// What `token` says of a request whose parameters hash to `fingerprint`; a new token is
    /// remembered as in progress.
    pub(crate) fn check_token(&mut self, token: &str, fingerprint: u64, now_ms: u64) -> TokenCheck {
        self.tokens
            .retain(|_, t| !t.committed || now_ms < t.completed_ms.saturating_add(TOKEN_WINDOW_MS));
        match self.tokens.get(token) {
            Some(t) if t.fingerprint != fingerprint => TokenCheck::Mismatch,
            Some(Token {
                committed: true, ..
            }) => TokenCheck::Replay,
            Some(_) => TokenCheck::InProgress,
            None => {
                self.tokens.insert(
                    token.to_string(),
                    Token {
                        fingerprint,
                        committed: false,
                        completed_ms: now_ms,
                    },
                );
                TokenCheck::New
            }
        }
    }

    /// The token's transaction completed: remembered for the window when it committed,
    /// forgotten when it failed (a retry with the same token runs again).
    pub(crate) fn complete_token(&mut self, token: &str, committed: bool, now_ms: u64) {
        if !committed {
            self.tokens.remove(token);
        } else if let Some(t) = self.tokens.get_mut(token) {
            t.committed = true;
            t.completed_ms = now_ms;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_stay_bounded_however_many_transactions_commit_or_cancel() {
        let mut host = Transactions::default();
        for i in 0..10_000u32 {
            let (tx, ts) = host.begin(1, u64::from(i));
            let key = i.to_be_bytes();
            host.prepare("t", &key, tx, ts).unwrap();
            if i % 2 == 0 {
                host.cancel("t", &key, tx, ts);
            } else {
                assert!(host.commit("t", &key, tx, ts));
            }
        }
        assert!(host.participants["t"].stamps_len() <= STAMPS_KEPT + 1);
        // A transaction after them all still prepares: the floor is older than its timestamp.
        let (tx, ts) = host.begin(1, 20_000);
        assert_eq!(host.prepare("t", &[0], tx, ts), Ok(()));
    }
}
