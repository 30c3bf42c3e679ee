//! Constants folded by DataFusion, and interval constants in Sluice's units: what LATENESS, the window table
//! functions, DATE_BIN and interval arithmetic read their sizes with.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::{dialect::GenericDialect, parser::Parser};

use super::func::Interval;

/// The value of `text`, a constant SQL expression (`INTERVAL '1' HOUR`, `-5`), as DataFusion plans and folds
/// `SELECT <text>`; `None` when it is not one expression or not constant.
pub(crate) fn fold_constant(text: &str, ctx: &SessionContext) -> Option<ScalarValue> {
    // One expression, not a statement or a list: it must parse as one on its own.
    Parser::new(&GenericDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .ok()?;
    let state = ctx.state();
    let plan = futures::executor::block_on(state.create_logical_plan(&format!("SELECT {text}")))
        .and_then(|p| state.optimize(&p))
        .ok()?;
    let LogicalPlan::Projection(p) = plan else {
        return None;
    };
    match p.expr.as_slice() {
        [Expr::Alias(a)] => match a.expr.as_ref() {
            Expr::Literal(v, _) => Some(v.clone()),
            _ => None,
        },
        [Expr::Literal(v, _)] => Some(v.clone()),
        _ => None,
    }
}

/// The length of a constant interval of days and time, in microseconds (None for months, which have no fixed
/// length, and for anything that is not an interval).
pub(crate) fn interval_micros(s: &ScalarValue) -> Option<i64> {
    interval_value(s)
        .filter(|iv| iv.months == 0)
        .map(|iv| i64::from(iv.days) * 86_400_000_000 + iv.nanos.div_euclid(1_000))
}

/// A constant interval's months, days and nanoseconds, whichever Arrow interval type holds it.
pub(super) fn interval_value(s: &ScalarValue) -> Option<Interval> {
    match s {
        ScalarValue::IntervalMonthDayNano(Some(v)) => Some(Interval {
            months: v.months,
            days: v.days,
            nanos: v.nanoseconds,
        }),
        ScalarValue::IntervalDayTime(Some(v)) => Some(Interval {
            months: 0,
            days: v.days,
            nanos: i64::from(v.milliseconds) * 1_000_000,
        }),
        ScalarValue::IntervalYearMonth(Some(m)) => Some(Interval {
            months: *m,
            days: 0,
            nanos: 0,
        }),
        _ => None,
    }
}
