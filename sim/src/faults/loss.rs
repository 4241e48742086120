//! The `loss` fault: 2-20 % of all messages dropped.

use super::{Draw, Fault};

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let per_mille = 20 + d.below(180) as u32;
    Some(Fault::Loss { per_mille })
}

pub(super) fn render(per_mille: u32) -> (String, String) {
    ("network".into(), format!("{per_mille}‰ of messages lost"))
}
