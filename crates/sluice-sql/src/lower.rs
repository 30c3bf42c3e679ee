//! Lowering DataFusion's optimized `LogicalPlan` of a view into Sluice's [`Node`] tree.
//!
//! Every plan node and expression either lowers to something the engine computes exactly, or fails with an
//! [`Unsupported`] naming the construct: there is no fallback that could give a wrong answer.

use std::cell::RefCell;
use std::collections::HashMap;

use datafusion::common::{DFSchema, NullEquality};
use datafusion::logical_expr::{
    expr::{AggregateFunction, WindowFunction},
    utils::split_conjunction,
    Distinct, Expr, ExprSchemable, FetchType, JoinType, LogicalPlan, Operator, SkipType, SortExpr,
    WindowFunctionDefinition,
};
use sluice_data::Row;

use crate::error::{LowerResult, Unsupported};
use crate::expr::{compile, Scalar};
use crate::plan::{JoinKind, JoinNode, Node, SortKey};
use crate::window::{Frame, WindowCall, WindowFunc};

/// What a name in a `FROM` clause refers to.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// Table number `.0`.
    Table(usize),
    /// View number `.0`.
    View(usize),
}

/// Lowers a view's plan; `sources` maps table and view names to their positions.
pub fn lower(plan: &LogicalPlan, sources: &HashMap<String, Source>) -> LowerResult<Node> {
    Lowerer {
        sources,
        rank_limits: RefCell::new(HashMap::new()),
    }
    .node(plan)
}

struct Lowerer<'a> {
    sources: &'a HashMap<String, Source>,
    /// Window nodes (by address in the plan being lowered) whose single ranking function a filter above
    /// bounds (`WHERE rn <= k`), with the bound.
    rank_limits: RefCell<HashMap<*const datafusion::logical_expr::Window, i64>>,
}

impl Lowerer<'_> {
    fn node(&self, plan: &LogicalPlan) -> LowerResult<Node> {
        Ok(match plan {
            LogicalPlan::TableScan(scan) => {
                let name = scan.table_name.table();
                let source = self
                    .sources
                    .get(name)
                    .ok_or_else(|| Unsupported::new(format!("unknown table or view {name}")))?;
                let mut node = match source {
                    Source::Table(i) => Node::Table(*i),
                    Source::View(i) => Node::View(*i),
                };
                if scan.fetch.is_some() {
                    return Err(Unsupported::at_keyword("LIMIT without ORDER BY", "LIMIT"));
                }
                if !scan.filters.is_empty() {
                    let full = DFSchema::try_from_qualified_schema(
                        scan.table_name.clone(),
                        &scan.source.schema(),
                    )
                    .map_err(|e| Unsupported::new(e.to_string()))?;
                    for f in &scan.filters {
                        node = Node::Filter {
                            input: Box::new(node),
                            predicate: compile(f, &full)?,
                        };
                    }
                }
                if let Some(projection) = &scan.projection {
                    let schema = scan.source.schema();
                    let exprs = projection
                        .iter()
                        .map(|&i| Scalar::column(i, schema.field(i).data_type().clone()))
                        .collect();
                    node = Node::Map {
                        input: Box::new(node),
                        exprs,
                    };
                }
                node
            }
            LogicalPlan::Projection(p) => Node::Map {
                input: Box::new(self.node(&p.input)?),
                exprs: self.exprs(&p.expr, p.input.schema())?,
            },
            LogicalPlan::Filter(f) => Node::Filter {
                input: {
                    self.note_rank_limit(&f.predicate, &f.input);
                    Box::new(self.node(&f.input)?)
                },
                predicate: compile(&f.predicate, f.input.schema())?,
            },
            LogicalPlan::SubqueryAlias(a) => self.node(&a.input)?,
            LogicalPlan::EmptyRelation(e) => Node::Constant(if e.produce_one_row {
                vec![Row(vec![])]
            } else {
                vec![]
            }),
            LogicalPlan::Values(v) => {
                let empty = DFSchema::empty();
                let rows = v
                    .values
                    .iter()
                    .map(|row| {
                        let values = self.exprs(row, &empty)?;
                        Ok(Row(values.iter().map(|s| s.eval(&[])).collect()))
                    })
                    .collect::<LowerResult<Vec<_>>>()?;
                Node::Constant(rows)
            }
            LogicalPlan::Union(u) => Node::UnionAll(
                u.inputs
                    .iter()
                    .map(|i| self.node(i))
                    .collect::<LowerResult<_>>()?,
            ),
            LogicalPlan::Distinct(Distinct::All(input)) => {
                Node::Distinct(Box::new(self.node(input)?))
            }
            LogicalPlan::Distinct(Distinct::On(_)) => {
                return Err(Unsupported::at_keyword("SELECT DISTINCT ON", "DISTINCT"))
            }
            LogicalPlan::Aggregate(a) => self.aggregate(a)?,
            LogicalPlan::Join(j) => self.join(j)?,
            LogicalPlan::Sort(s) => match s.fetch {
                // A view is a set: ORDER BY without LIMIT does not change its contents.
                None => self.node(&s.input)?,
                Some(fetch) => self.top_k(&s.expr, &s.input, 0, fetch)?,
            },
            LogicalPlan::Limit(l) => {
                let skip = match l
                    .get_skip_type()
                    .map_err(|e| Unsupported::new(e.to_string()))?
                {
                    SkipType::Literal(n) => n,
                    SkipType::UnsupportedExpr => {
                        return Err(Unsupported::at_keyword("a non-constant OFFSET", "OFFSET"))
                    }
                };
                let fetch = match l
                    .get_fetch_type()
                    .map_err(|e| Unsupported::new(e.to_string()))?
                {
                    FetchType::Literal(Some(n)) => n,
                    FetchType::Literal(None) => usize::MAX,
                    FetchType::UnsupportedExpr => {
                        return Err(Unsupported::at_keyword("a non-constant LIMIT", "LIMIT"))
                    }
                };
                self.limit(&l.input, skip, fetch)?
            }
            LogicalPlan::Window(w) => self.window(w)?,
            other => {
                return Err(Unsupported::new(format!(
                    "{} is not supported in a view",
                    plan_name(other)
                )))
            }
        })
    }

    fn exprs(&self, exprs: &[Expr], schema: &DFSchema) -> LowerResult<Vec<Scalar>> {
        exprs.iter().map(|e| compile(e, schema)).collect()
    }

    /// `LIMIT` over a `Sort` (possibly under projections): a top-k.
    fn limit(&self, plan: &LogicalPlan, skip: usize, fetch: usize) -> LowerResult<Node> {
        match plan {
            LogicalPlan::Sort(s) => self.top_k(&s.expr, &s.input, skip, fetch),
            LogicalPlan::Projection(p) => Ok(Node::Map {
                input: Box::new(self.limit(&p.input, skip, fetch)?),
                exprs: self.exprs(&p.expr, p.input.schema())?,
            }),
            LogicalPlan::SubqueryAlias(a) => self.limit(&a.input, skip, fetch),
            _ => Err(Unsupported::at_keyword(
                "LIMIT without ORDER BY (the result would be arbitrary)",
                "LIMIT",
            )),
        }
    }

    fn top_k(
        &self,
        order: &[SortExpr],
        input: &LogicalPlan,
        skip: usize,
        fetch: usize,
    ) -> LowerResult<Node> {
        Ok(Node::TopK {
            input: Box::new(self.node(input)?),
            partition: vec![],
            order: self.sort_keys(order, input.schema())?,
            skip,
            fetch,
        })
    }

    fn sort_keys(&self, order: &[SortExpr], schema: &DFSchema) -> LowerResult<Vec<SortKey>> {
        order
            .iter()
            .map(|s| {
                Ok(SortKey {
                    expr: compile(&s.expr, schema)?,
                    descending: !s.asc,
                    nulls_first: s.nulls_first,
                })
            })
            .collect()
    }

    fn aggregate(&self, a: &datafusion::logical_expr::Aggregate) -> LowerResult<Node> {
        let schema = a.input.schema();
        if a.group_expr
            .iter()
            .any(|e| matches!(e, Expr::GroupingSet(_)))
        {
            let (args, aggs) = self.aggregate_calls(a)?;
            return crate::composite::grouping_sets(a, self.node(&a.input)?, args, aggs);
        }
        let keys = self.exprs(&a.group_expr, schema)?;
        let (args, aggs) = self.aggregate_calls(a)?;
        Ok(Node::Aggregate {
            input: Box::new(self.node(&a.input)?),
            keys,
            args,
            aggs,
        })
    }

    /// The aggregates of `a` (args and calls), lowered once for every grouping they are computed by.
    fn aggregate_calls(
        &self,
        a: &datafusion::logical_expr::Aggregate,
    ) -> LowerResult<(Vec<Scalar>, Vec<crate::agg::AggCall>)> {
        let schema = a.input.schema();
        let mut args = Vec::new();
        let mut aggs = Vec::new();
        for e in &a.aggr_expr {
            let data_type = e
                .get_type(schema)
                .map_err(|err| Unsupported::new(format!("cannot type {e}: {err}")))?;
            let f = match strip_alias(e) {
                Expr::AggregateFunction(f) => f,
                other => return Err(Unsupported::new(format!("aggregate expression {other}"))),
            };
            aggs.push(crate::agg::lower_call(f, schema, data_type, &mut args)?);
        }
        Ok((args, aggs))
    }

    fn join(&self, j: &datafusion::logical_expr::Join) -> LowerResult<Node> {
        if j.null_aware {
            return crate::composite::not_in(j, self.node(&j.left)?, self.node(&j.right)?);
        }
        let kind = match j.join_type {
            JoinType::Inner => JoinKind::Inner,
            JoinType::Left => JoinKind::Left,
            JoinType::Right => JoinKind::Right,
            JoinType::Full => JoinKind::Full,
            JoinType::LeftSemi => JoinKind::LeftSemi,
            JoinType::LeftAnti => JoinKind::LeftAnti,
            JoinType::RightSemi => JoinKind::RightSemi,
            JoinType::RightAnti => JoinKind::RightAnti,
            other => return Err(Unsupported::new(format!("{other} join is not supported"))),
        };
        let (ls, rs) = (j.left.schema(), j.right.schema());
        let both = ls.join(rs).map_err(|e| Unsupported::new(e.to_string()))?;
        let residual = j.filter.as_ref().map(|f| compile(f, &both)).transpose()?;
        Ok(Node::Join(Box::new(JoinNode {
            left: self.node(&j.left)?,
            right: self.node(&j.right)?,
            kind,
            left_keys: j
                .on
                .iter()
                .map(|(l, _)| compile(l, ls))
                .collect::<LowerResult<_>>()?,
            right_keys: j
                .on
                .iter()
                .map(|(_, r)| compile(r, rs))
                .collect::<LowerResult<_>>()?,
            null_equal: j.null_equality == NullEquality::NullEqualsNull,
            residual,
            left_width: ls.fields().len(),
            right_width: rs.fields().len(),
        })))
    }

    /// Records a `rank <= k` (or `rank < k`) conjunct of a filter over a ranking window function, so that the
    /// window outputs only the rows the filter keeps.
    fn note_rank_limit(&self, predicate: &Expr, input: &LogicalPlan) {
        for conjunct in split_conjunction(predicate) {
            let Expr::BinaryExpr(b) = conjunct else {
                continue;
            };
            let (column, literal, op) = match (b.left.as_ref(), b.right.as_ref()) {
                (Expr::Column(c), Expr::Literal(v, _)) => (c, v, b.op),
                (Expr::Literal(v, _), Expr::Column(c)) => match b.op.swap() {
                    Some(op) => (c, v, op),
                    None => continue,
                },
                _ => continue,
            };
            let Some(n) = crate::expr::scalar_value(literal)
                .ok()
                .and_then(|v| crate::expr::as_int(&v))
            else {
                continue;
            };
            let limit = match op {
                Operator::LtEq => n,
                Operator::Lt => n - 1,
                _ => continue,
            };
            let Ok(index) = input.schema().index_of_column(column) else {
                continue;
            };
            if let Some(w) = ranking_window(input, index) {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let mut limits = self.rank_limits.borrow_mut();
                let entry = limits.entry(w as *const _).or_insert(limit);
                *entry = (*entry).min(limit);
            }
        }
    }

    fn window(&self, w: &datafusion::logical_expr::Window) -> LowerResult<Node> {
        let schema = w.input.schema();
        let mut shape: Option<(&[Expr], &[SortExpr])> = None;
        let mut calls = Vec::new();
        for e in &w.window_expr {
            let data_type = e
                .get_type(schema)
                .map_err(|err| Unsupported::new(format!("cannot type {e}: {err}")))?;
            let Expr::WindowFunction(f) = strip_alias(e) else {
                return Err(Unsupported::new(format!("window expression {e}")));
            };
            let WindowFunction { fun, params } = f.as_ref();
            match shape {
                None => shape = Some((&params.partition_by, &params.order_by)),
                Some((p, o))
                    if p == params.partition_by.as_slice() && o == params.order_by.as_slice() => {}
                Some(_) => {
                    return Err(Unsupported::at_keyword(
                        "window functions with different PARTITION BY / ORDER BY in one SELECT",
                        "OVER",
                    ))
                }
            }
            if params.filter.is_some() || params.distinct {
                return Err(Unsupported::at_keyword(
                    "FILTER or DISTINCT in a window function",
                    "OVER",
                ));
            }
            let order_types = params
                .order_by
                .iter()
                .map(|o| {
                    o.expr
                        .get_type(schema)
                        .map(|t| (t, !o.asc))
                        .map_err(|err| Unsupported::new(format!("cannot type {}: {err}", o.expr)))
                })
                .collect::<LowerResult<Vec<_>>>()?;
            let frame = Frame::lower(&params.window_frame, &order_types)?;
            let mut args = Vec::new();
            let func = match fun {
                WindowFunctionDefinition::WindowUDF(u) => {
                    let name = u.name().to_ascii_lowercase();
                    match name.as_str() {
                        "row_number" => WindowFunc::RowNumber,
                        "rank" => WindowFunc::Rank,
                        "dense_rank" => WindowFunc::DenseRank,
                        "lag" | "lead" | "first_value" | "last_value" | "ntile" => {
                            crate::window::lower_value_function(
                                &name,
                                &params.args,
                                params.null_treatment,
                                schema,
                                &mut args,
                            )?
                        }
                        other => {
                            return Err(Unsupported::at_keyword(
                                format!("window function {}", other.to_uppercase()),
                                other.to_string(),
                            ))
                        }
                    }
                }
                WindowFunctionDefinition::AggregateUDF(u) => {
                    let f = AggregateFunction {
                        func: u.clone(),
                        params: datafusion::logical_expr::expr::AggregateFunctionParams {
                            args: params.args.clone(),
                            distinct: false,
                            filter: None,
                            order_by: vec![],
                            null_treatment: None,
                        },
                    };
                    WindowFunc::Aggregate(crate::agg::lower_call(&f, schema, data_type, &mut args)?)
                }
            };
            calls.push(WindowCall { func, args, frame });
        }
        let (partition, order) = shape.unwrap_or((&[], &[]));
        let rank_limit = self.rank_limits.borrow().get(&(w as *const _)).copied();
        Ok(Node::Window {
            input: Box::new(self.node(&w.input)?),
            partition: self.exprs(partition, schema)?,
            order: self.sort_keys(order, schema)?,
            calls,
            rank_limit,
        })
    }
}

/// The window node that produces column `index` of `plan` as its only function, a ranking one, following the
/// column through row-preserving nodes (aliases, projections, filters).
fn ranking_window(plan: &LogicalPlan, index: usize) -> Option<&datafusion::logical_expr::Window> {
    match plan {
        LogicalPlan::SubqueryAlias(a) => ranking_window(&a.input, index),
        LogicalPlan::Filter(f) => ranking_window(&f.input, index),
        LogicalPlan::Projection(p) => match strip_alias(p.expr.get(index)?) {
            Expr::Column(c) => ranking_window(&p.input, p.input.schema().index_of_column(c).ok()?),
            _ => None,
        },
        LogicalPlan::Window(w) => {
            let is_rank = match w.window_expr.as_slice() {
                [e] => matches!(strip_alias(e), Expr::WindowFunction(f) if matches!(&f.fun,
                    WindowFunctionDefinition::WindowUDF(u)
                        if matches!(u.name(), "row_number" | "rank" | "dense_rank"))),
                _ => false,
            };
            (is_rank && index == w.input.schema().fields().len()).then_some(w)
        }
        _ => None,
    }
}

fn strip_alias(e: &Expr) -> &Expr {
    match e {
        Expr::Alias(a) => strip_alias(&a.expr),
        other => other,
    }
}

/// A user-facing name of a plan node kind, for "not supported" errors.
fn plan_name(plan: &LogicalPlan) -> &'static str {
    match plan {
        LogicalPlan::Subquery(_) => "a correlated subquery",
        LogicalPlan::RecursiveQuery(_) => "WITH RECURSIVE",
        LogicalPlan::Unnest(_) => "UNNEST",
        LogicalPlan::Repartition(_) => "DISTRIBUTE BY / repartitioning",
        LogicalPlan::Extension(_) => "an extension plan node",
        LogicalPlan::Explain(_) | LogicalPlan::Analyze(_) => "EXPLAIN",
        LogicalPlan::Dml(_) => "INSERT / UPDATE / DELETE",
        LogicalPlan::Ddl(_) => "a DDL statement",
        LogicalPlan::Copy(_) => "COPY",
        LogicalPlan::Statement(_) => "this statement",
        LogicalPlan::DescribeTable(_) => "DESCRIBE",
        _ => "this plan node",
    }
}
