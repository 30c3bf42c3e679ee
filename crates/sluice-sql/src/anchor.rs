//! [`Anchor`]: what bounds the values still to come of a column, and [`EmitFinal`], a view's column whose rows become
//! final once the waterline passes them. Plain data, below `bounds.rs` (which finds anchors in a plan) and
//! `program.rs` (which keeps a view's `emit_final`).

/// What a column's values still to come are known to satisfy: `value + slack >= waterline` for at least one of
/// the bounds (a windowed join's key comes from either side, each with its own waterline). Never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor(pub Vec<Bound>);

/// One waterline a column trails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    /// The waterline, an index into [`crate::Program::waterlines`].
    pub waterline: usize,
    /// How far below the waterline a value still to come can be, in the column's unit.
    pub slack: i64,
}

impl Anchor {
    /// Whether a value can still come: it is at most `slack` below one of its waterlines. `waterlines` holds the
    /// waterlines in force (`None` where none is known yet, which allows everything).
    pub fn allows(&self, value: i64, waterlines: impl Fn(usize) -> Option<i64>) -> bool {
        self.0
            .iter()
            .any(|b| waterlines(b.waterline).is_none_or(|w| value.saturating_add(b.slack) >= w))
    }

    pub(crate) fn shifted(&self, by: i64) -> Option<Anchor> {
        let bounds = self
            .0
            .iter()
            .map(|b| {
                Some(Bound {
                    waterline: b.waterline,
                    slack: b.slack.checked_add(by)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Anchor(bounds))
    }

    /// Values that come from either of two anchored sources (of one waterline, the larger slack allows both).
    pub(crate) fn either(&self, other: &Anchor) -> Anchor {
        let mut bounds = self.0.clone();
        for b in &other.0 {
            match bounds.iter_mut().find(|x| x.waterline == b.waterline) {
                Some(x) => x.slack = x.slack.max(b.slack),
                None => bounds.push(*b),
            }
        }
        Anchor(bounds)
    }
}

/// A view's `emit_final` column and what bounds it.
#[derive(Clone, Debug)]
pub struct EmitFinal {
    /// The column's index in the view.
    pub column: usize,
    /// The waterlines its values still to come trail.
    pub anchor: Anchor,
}
