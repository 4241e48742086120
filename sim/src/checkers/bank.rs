//! The `bank` checker: a read of the bank (one item, or with `txn-bank` one item per account
//! read in one transaction) whose balances do not sum to the total set up, or include a
//! negative balance; and (`txn-bank`, whose debit asks ReturnValuesOnConditionCheckFailure
//! ALL_OLD) a transfer cancelled because its debit's condition failed whose reason carries an
//! account that covers the amount (`cancellation-item`).

use super::{Anomaly, Checker, Model, Report, Scope, describe};
use crate::history::{Kind, Op};
use serde_json::Value as Json;

pub(super) struct Bank;

impl Checker for Bank {
    fn name(&self) -> &'static str {
        "bank"
    }

    fn promise(&self) -> &'static str {
        "transfers are atomic (one UpdateItem, or one transaction over the accounts' items), \
         and a cancelled debit shows an account short of the amount"
    }

    fn scope(&self) -> Scope {
        Scope::Items(&[Model::Bank])
    }

    fn check_item(&self, key: &str, ops: &[&Op], report: &mut Report) {
        let Some(setup) = ops
            .iter()
            .find(|o| o.f == "write" && o.outcome == Kind::Ok && o.input.is_object())
        else {
            return;
        };
        let sum = |v: &Json| -> Option<(i64, bool)> {
            let m = v.as_object()?;
            let mut total = 0i64;
            let mut negative = false;
            for b in m.values() {
                let b = b.as_i64()?;
                negative |= b < 0;
                total += b;
            }
            Some((total, negative))
        };
        let Some((total, _)) = sum(&setup.input) else {
            return;
        };
        let mut checked = 0u64;
        for op in ops
            .iter()
            .filter(|o| o.f == "read-bank" && o.outcome == Kind::Ok && o.start > setup.end_or_max())
        {
            checked += 1;
            if let Some((seen, negative)) = sum(&op.output)
                && (seen != total || negative)
            {
                report.anomalies.push(Anomaly {
                    checker: self.name(),
                    kind: "bank-invariant",
                    violation: true,
                    key: Some(key.to_string()),
                    ops: vec![op.id],
                    time: op.end_or_max(),
                    explanation: format!(
                        "Bank {key}: the {} balances sum to {seen}{}, but transfers keep the total at \
                         {total}.",
                        describe(op),
                        if negative {
                            " with a negative balance"
                        } else {
                            ""
                        }
                    ),
                });
                break;
            }
        }
        *report.stats.entry("bank_reads".into()).or_default() += checked;
        cancelled_debits(key, ops, report);
    }
}

/// Transfers cancelled with their debit's condition failed (`b >= amount`): the item the
/// reason carries is the account the condition judged, so its balance is short of the amount.
fn cancelled_debits(key: &str, ops: &[&Op], report: &mut Report) {
    let mut seen = 0u64;
    for op in ops
        .iter()
        .filter(|o| o.f == "transfer" && o.outcome == Kind::Fail)
    {
        let Some(debit) = op.output.as_array().and_then(|r| r.first()) else {
            continue;
        };
        if debit["Code"] != "ConditionalCheckFailed" {
            continue;
        }
        let Some(item) = debit.get("Item") else {
            continue;
        };
        seen += 1;
        let balance = item["b"]["N"].as_str().and_then(|n| n.parse::<i64>().ok());
        let amount = op.input["amount"].as_i64();
        if let (Some(b), Some(amount)) = (balance, amount)
            && b < amount
        {
            continue;
        }
        report.anomalies.push(Anomaly {
            checker: "bank",
            kind: "cancellation-item",
            violation: true,
            key: Some(key.to_string()),
            ops: vec![op.id],
            time: op.end_or_max(),
            explanation: format!(
                "Bank {key}: a transfer of {} from {} was cancelled because its debit's \
                 condition (the balance covers the amount) failed, but the account the \
                 cancellation reason returned is {}: it covers the amount.",
                op.input["amount"], op.input["from"], item
            ),
        });
    }
    if seen > 0 {
        *report
            .stats
            .entry("bank_cancelled_debits_with_item".into())
            .or_default() += seen;
    }
}
