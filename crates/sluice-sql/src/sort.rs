//! [`SortKey`]: one `ORDER BY` key and how it orders two values. Used by the plan (`TopK` and `Window` nodes) and
//! by the per-partition computations of `window.rs`; a leaf, so that neither of those depends on the other.

use crate::expr::Scalar;

/// One `ORDER BY` key.
#[derive(Clone, Debug)]
pub struct SortKey {
    /// The sort expression over the input row.
    pub expr: Scalar,
    /// `DESC`.
    pub descending: bool,
    /// `NULLS FIRST`.
    pub nulls_first: bool,
}

impl SortKey {
    /// Compares two evaluated key values, honouring direction and NULL placement.
    pub fn compare_values(
        &self,
        x: &sluice_data::Value,
        y: &sluice_data::Value,
    ) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if self.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if self.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, false) => {
                let o = crate::expr::compare(x, y).unwrap_or(Ordering::Equal);
                if self.descending {
                    o.reverse()
                } else {
                    o
                }
            }
        }
    }
}
