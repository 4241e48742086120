//! The `delay` fault: message latency raised to up to 20-200 ms.

use super::{Draw, Fault};

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let max_ms = 20 + d.below(180);
    Some(Fault::Delay { max_ms })
}

pub(super) fn render(max_ms: u64) -> (String, String) {
    ("network".into(), format!("latency up to {max_ms} ms"))
}
