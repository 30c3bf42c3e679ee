//! SQL constructs the lowering builds out of ordinary plan nodes, each kept incrementally like any other:
//! `NOT IN (subquery)` with SQL's NULL rules and `GROUPING SETS` / `ROLLUP` / `CUBE`. `lower.rs` lowers their
//! inputs and hands them over.

use std::collections::HashMap;

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{Aggregate, Expr, GroupingSet, Join};
use sluice_data::Value;

use crate::agg::{AggCall, AggFunc};
use crate::error::{LowerResult, Unsupported};
use crate::expr::{compile, Scalar};
use crate::plan::{JoinKind, JoinNode, Node};

/// `x NOT IN (SELECT y …)`, which DataFusion plans as a null-aware anti join, with SQL's NULL rules: a left
/// row is kept when the subquery has no rows at all, or when no `y` equals `x`, `x` is not NULL and no `y` is
/// NULL (a comparison with NULL is unknown, and NOT IN keeps only what is surely true). Built from parts the
/// engine keeps incrementally: the plain anti join, a global count of the subquery's rows and of its NULL
/// keys (one row, even over an empty input), joined to every row, a filter on them, and the left columns.
pub(crate) fn not_in(j: &Join, left: Node, right: Node) -> LowerResult<Node> {
    let ([(left_expr, right_expr)], None) = (j.on.as_slice(), &j.filter) else {
        return Err(Unsupported::at_keyword(
            "NOT IN with a correlated subquery or several columns; use NOT EXISTS",
            "NOT IN",
        ));
    };
    let (ls, rs) = (j.left.schema(), j.right.schema());
    let (left_key, right_key) = (compile(left_expr, ls)?, compile(right_expr, rs)?);
    let left_width = ls.fields().len();
    let unmatched = Node::Join(Box::new(JoinNode {
        left,
        right: right.clone(),
        kind: JoinKind::LeftAnti,
        left_keys: vec![left_key.clone()],
        right_keys: vec![right_key.clone()],
        null_equal: false,
        residual: None,
        left_width,
        right_width: rs.fields().len(),
    }));
    let count = |filter| AggCall {
        func: AggFunc::CountRows,
        arg: 0,
        distinct: false,
        filter,
        data_type: DataType::Int64,
        arg_type: DataType::Null,
    };
    let null_key = Scalar::computed(DataType::Boolean, move |row| {
        Value::Bool(right_key.eval(row).is_null())
    });
    let counts = Node::Aggregate {
        input: Box::new(right),
        keys: vec![],
        args: vec![null_key],
        aggs: vec![count(None), count(Some(0))],
    };
    let with_counts = Node::Join(Box::new(JoinNode {
        left: unmatched,
        right: counts,
        kind: JoinKind::Inner,
        left_keys: vec![],
        right_keys: vec![],
        null_equal: false,
        residual: None,
        left_width,
        right_width: 2,
    }));
    let keep = Scalar::computed(DataType::Boolean, move |row| {
        let (rows, nulls) = (&row[left_width], &row[left_width + 1]);
        Value::Bool(
            *rows == Value::BigInt(0)
                || (*nulls == Value::BigInt(0) && !left_key.eval(row).is_null()),
        )
    });
    Ok(Node::Map {
        input: Box::new(Node::Filter {
            input: Box::new(with_counts),
            predicate: keep,
        }),
        exprs: ls
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| Scalar::column(i, f.data_type().clone()))
            .collect(),
    })
}

/// `GROUP BY GROUPING SETS (…)`, `ROLLUP (…)`, `CUBE (…)` (also mixed with plain keys): one ordinary aggregate
/// per grouping set, each padded to DataFusion's output row (every grouping expression, NULL where the set
/// leaves it out, then `__grouping_id`, then the aggregates), and their sum. Each part is kept incrementally
/// like any GROUP BY; a set listed twice is computed twice, as SQL wants, told apart by the id's high bits.
pub(crate) fn grouping_sets(
    a: &Aggregate,
    input: Node,
    args: Vec<Scalar>,
    aggs: Vec<AggCall>,
) -> LowerResult<Node> {
    let schema = a.input.schema();
    let exprs: Vec<Expr> = datafusion::logical_expr::utils::grouping_set_to_exprlist(&a.group_expr)
        .map_err(|e| Unsupported::new(e.to_string()))?
        .into_iter()
        .cloned()
        .collect();
    // The planner has already turned mixed forms (`GROUP BY a, ROLLUP (b)`) into one GROUPING SETS.
    let sets: Vec<Vec<Expr>> = match a.group_expr.as_slice() {
        [Expr::GroupingSet(GroupingSet::GroupingSets(sets))] => sets.clone(),
        [Expr::GroupingSet(GroupingSet::Rollup(keys))] => {
            (0..=keys.len()).rev().map(|n| keys[..n].to_vec()).collect()
        }
        [Expr::GroupingSet(GroupingSet::Cube(keys))] if keys.len() <= 12 => (0..1u32 << keys.len())
            .map(|mask| {
                keys.iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, k)| k.clone())
                    .collect()
            })
            .collect(),
        _ => {
            return Err(Unsupported::at_keyword(
                "this form of GROUPING SETS (or a CUBE of more than 12 keys)",
                "GROUP",
            ))
        }
    };
    let out = a.schema.fields();
    let id_type = out[exprs.len()].data_type().clone();
    let mut seen: HashMap<Vec<bool>, u64> = HashMap::new();
    let mut parts = Vec::with_capacity(sets.len());
    for set in &sets {
        let left_out: Vec<bool> = exprs.iter().map(|e| !set.contains(e)).collect();
        let ordinal = seen.entry(left_out.clone()).or_insert(0);
        let id = left_out
            .iter()
            .fold(0u64, |acc, out| (acc << 1) | u64::from(*out))
            | (*ordinal << exprs.len());
        *ordinal += 1;
        let kept: Vec<&Expr> = exprs
            .iter()
            .zip(&left_out)
            .filter(|(_, o)| !**o)
            .map(|(e, _)| e)
            .collect();
        let keys = kept
            .iter()
            .map(|e| compile(e, schema))
            .collect::<LowerResult<Vec<_>>>()?;
        let mut padded = Vec::with_capacity(out.len());
        let mut key = 0;
        for (i, left) in left_out.iter().enumerate() {
            let data_type = out[i].data_type().clone();
            padded.push(if *left {
                Scalar::computed(data_type, |_| Value::Null)
            } else {
                key += 1;
                Scalar::column(key - 1, data_type)
            });
        }
        let id_value = crate::expr::int_value(&id_type, i128::from(id));
        padded.push(Scalar::computed(id_type.clone(), move |_| id_value.clone()));
        padded.extend(
            (0..aggs.len()).map(|i| {
                Scalar::column(kept.len() + i, out[exprs.len() + 1 + i].data_type().clone())
            }),
        );
        parts.push(Node::Map {
            input: Box::new(Node::Aggregate {
                input: Box::new(input.clone()),
                keys,
                args: args.clone(),
                aggs: aggs.clone(),
            }),
            exprs: padded,
        });
    }
    Ok(Node::UnionAll(parts))
}
