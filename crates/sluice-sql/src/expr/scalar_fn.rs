//! Scalar function calls: each implemented function, checked against the argument types it computes. The caller
//! compiles the arguments (compiling is recursive), so this file needs only the compiled [`Scalar`]s.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::logical_expr::{expr::ScalarFunction, Expr};
use sluice_data::Value;

use super::func::{self, TrimSide};
use super::scalar::{is_numeric, is_string, Scalar};
use super::{ops, scalar_value};
use crate::error::{LowerResult, Unsupported};

/// The call `f` over its compiled arguments `args`, returning `out`.
pub(super) fn function(
    f: &ScalarFunction,
    args: Vec<Scalar>,
    out: DataType,
) -> LowerResult<Scalar> {
    let name = f.func.name().to_ascii_lowercase();
    let arity_ok = |lo: usize, hi: usize| (lo..=hi).contains(&args.len());
    let unsupported = || {
        Unsupported::at_keyword(
            format!(
                "function {}({} arguments) is not supported",
                name.to_uppercase(),
                args.len()
            ),
            name.clone(),
        )
    };
    // Each implemented function is only used on the argument types it computes; others are rejected, never NULL.
    let arg_types_ok = match name.as_str() {
        "upper" | "lower" | "character_length" | "char_length" | "length" | "substr"
        | "substring" | "btrim" | "ltrim" | "rtrim" | "trim" => {
            args.first().is_some_and(|a| is_string(&a.data_type))
        }
        "replace" => args.iter().all(|a| is_string(&a.data_type)),
        "split_part" => {
            args.len() == 3
                && is_string(&args[0].data_type)
                && is_string(&args[1].data_type)
                && is_numeric(&args[2].data_type)
        }
        "concat" => args
            .iter()
            .all(|a| is_string(&a.data_type) || a.data_type == DataType::Null),
        "abs" => args.first().is_some_and(|a| is_numeric(&a.data_type)),
        "date_part" | "datepart" => args.get(1).is_some_and(|a| {
            matches!(
                a.data_type,
                DataType::Date32
                    | DataType::Timestamp(_, None)
                    | DataType::Time64(_)
                    | DataType::Duration(TimeUnit::Microsecond | TimeUnit::Nanosecond)
            )
        }),
        _ => true,
    };
    if !arg_types_ok {
        return Err(Unsupported::at_keyword(
            format!(
                "function {} on arguments of type {}",
                name.to_uppercase(),
                args.iter()
                    .map(|a| a.data_type.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            name.clone(),
        ));
    }
    let arg = |i: usize| args[i].clone();
    let t = out.clone();
    Ok(match name.as_str() {
        "upper" if arity_ok(1, 1) => {
            let a = arg(0);
            Scalar::new(out, move |r| {
                func::map_str(&a.eval_ref(r), str::to_uppercase)
            })
        }
        "lower" if arity_ok(1, 1) => {
            let a = arg(0);
            Scalar::new(out, move |r| {
                func::map_str(&a.eval_ref(r), str::to_lowercase)
            })
        }
        "character_length" | "char_length" | "length" if arity_ok(1, 1) => {
            let a = arg(0);
            Scalar::new(out, move |r| func::char_length(&a.eval_ref(r), &t))
        }
        "substr" | "substring" if arity_ok(2, 3) => Scalar::new(out, move |r| {
            let len = args.get(2).map(|l| l.eval(r));
            func::substr(&args[0].eval_ref(r), &args[1].eval_ref(r), len.as_ref())
        }),
        "replace" if arity_ok(3, 3) => Scalar::new(out, move |r| {
            func::replace(
                &args[0].eval_ref(r),
                &args[1].eval_ref(r),
                &args[2].eval_ref(r),
            )
        }),
        "split_part" if arity_ok(3, 3) => Scalar::new(out, move |r| {
            func::split_part(
                &args[0].eval_ref(r),
                &args[1].eval_ref(r),
                &args[2].eval_ref(r),
            )
        }),
        "concat" => Scalar::new(out, move |r| {
            func::concat(&args.iter().map(|a| a.eval(r)).collect::<Vec<_>>())
        }),
        "btrim" | "ltrim" | "rtrim" | "trim" if arity_ok(1, 2) => {
            let side = match name.as_str() {
                "ltrim" => TrimSide::Leading,
                "rtrim" => TrimSide::Trailing,
                _ => TrimSide::Both,
            };
            Scalar::new(out, move |r| {
                let chars = args.get(1).map(|c| c.eval(r));
                func::trim(&args[0].eval_ref(r), chars.as_ref(), side)
            })
        }
        "coalesce" => Scalar::new(out, move |r| {
            args.iter()
                .map(|a| a.eval(r))
                .find(|v| !v.is_null())
                .unwrap_or(Value::Null)
        }),
        "nullif" if arity_ok(2, 2) => Scalar::new(out, move |r| {
            let a = args[0].eval(r);
            if ops::compare(&a, &args[1].eval_ref(r)).is_some_and(|o| o.is_eq()) {
                Value::Null
            } else {
                a
            }
        }),
        "abs" if arity_ok(1, 1) => {
            let a = arg(0);
            Scalar::new(out, move |r| func::abs(&a.eval_ref(r)))
        }
        "date_part" | "datepart" if arity_ok(2, 2) => {
            let part = match &f.args[0] {
                Expr::Literal(s, _) => match scalar_value(s)? {
                    Value::String(p) => p.to_ascii_lowercase(),
                    _ => return Err(unsupported()),
                },
                _ => return Err(unsupported()),
            };
            let part = match part.as_str() {
                "years" => "year".to_string(),
                "months" => "month".to_string(),
                "days" => "day".to_string(),
                "hours" => "hour".to_string(),
                "minutes" => "minute".to_string(),
                "seconds" => "second".to_string(),
                _ => part,
            };
            if !func::DATE_PARTS.contains(&part.as_str()) {
                return Err(Unsupported::at_keyword(
                    format!("date part '{part}' is not supported"),
                    "EXTRACT",
                ));
            }
            let a = arg(1);
            if func::duration_units_per_micro(&a.data_type).is_some() {
                // A duration's microseconds: only its length in seconds is a part of it here.
                if part != "epoch" {
                    return Err(Unsupported::at_keyword(
                        format!(
                            "date part '{part}' of a TIMESTAMP − TIMESTAMP difference: only EPOCH (seconds) is \
                             supported"
                        ),
                        "EXTRACT",
                    ));
                }
                let unit = a.data_type.clone();
                return Ok(Scalar::new(out, move |r| match &*a.eval_ref(r) {
                    Value::BigInt(units) => func::seconds(*units, &unit, &t),
                    _ => Value::Null,
                }));
            }
            Scalar::new(out, move |r| func::date_part(&part, &a.eval_ref(r), &t))
        }
        _ => return Err(unsupported()),
    })
}
