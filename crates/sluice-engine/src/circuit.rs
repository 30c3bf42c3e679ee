//! Building the dbsp circuit of a compiled program: one input per table, one output per view.
//!
//! Every relation is a stream of Z-sets of [`DRow`]. Views are built in declaration order and kept, so a view
//! over a view reuses the earlier view's stream instead of recomputing it.
//!
//! A `MATERIALIZED` view also keeps its contents (an integral of its changes, spilled to storage like any dbsp
//! trace) behind an output that yields a read-only snapshot only in a step whose snapshot guard is set: that is
//! what an output connector's `send_snapshot` reads. A `CREATE INDEX` adds a count of rows per key of its view, whose
//! keys with more than one row are an output too. Only the program decides which views keep their contents and
//! which keys are counted, so a checkpoint always restores into a circuit of the same shape.

use std::sync::Arc;

use dbsp::operator::OutputHandle;
use dbsp::typed_batch::{SpineSnapshot, TypedBox};
use dbsp::{InputHandle, OrdZSet, RootCircuit, Stream, ZSetHandle};
use sluice_data::Value;
use sluice_sql::expr::Scalar;
use sluice_sql::plan::{JoinKind, JoinNode, Node};
use sluice_sql::{agg, window, IndexDef, Program};

use crate::chain::{is_inner_join, value_of, RowChain, Stage};
use crate::group::{pack, unpack, GroupFn};
use crate::retention::{retain_keys, retention, BoundStream};
use crate::row::DRow;
use crate::sums::Sums;
use crate::totals::running_totals;

/// A stream of row Z-sets.
pub type RowStream = Stream<RootCircuit, OrdZSet<DRow>>;

/// A stream of rows indexed by a key (a join side).
type KeyedStream = Stream<RootCircuit, dbsp::OrdIndexedZSet<DRow, DRow>>;

/// The handles the controller keeps after building the circuit.
pub struct CircuitHandles {
    /// One input per table, in program order.
    pub tables: Vec<ZSetHandle<DRow>>,
    /// The hidden input that receives a single empty row once, at the first step: constants (`VALUES`,
    /// `SELECT` without `FROM`) and the empty-input row of global aggregates derive from it.
    pub unit: ZSetHandle<DRow>,
    /// One accumulated output per view, in program order.
    pub views: Vec<OutputHandle<SpineSnapshot<OrdZSet<DRow>>>>,
    /// Per view in program order, for materialized views: the whole contents after a step whose
    /// `snapshot_guard` was set (and nothing in other steps).
    pub contents: Vec<Option<OutputHandle<SpineSnapshot<OrdZSet<DRow>>>>>,
    /// One output per `CREATE INDEX`, in program order: the index's keys that more than one row of its view has,
    /// each as the key's values followed by the row count, whenever that count changes (and stays above 1).
    pub duplicates: Vec<OutputHandle<SpineSnapshot<OrdZSet<DRow>>>>,
    /// Set to `true` for one step to have `contents` yield the snapshots; dbsp resets it after each step. Only
    /// programs with a materialized view have it, so that other circuits keep the shape they always had (and their
    /// checkpoints).
    pub snapshot_guard: Option<InputHandle<bool>>,
    /// The waterlines in force, set before every step (see `lateness.rs`); dbsp resets it after each step, and the
    /// circuit then keeps the last ones set. Only programs with a `LATENESS` have it.
    pub waterlines: Option<InputHandle<DRow>>,
}

/// Builds the circuit for `program` (called once per worker).
pub fn build(circuit: &mut RootCircuit, program: &Program) -> CircuitHandles {
    let (unit_stream, unit) = circuit.add_input_zset::<DRow>();
    let guard = program
        .views
        .iter()
        .any(|v| v.materialized)
        .then(|| circuit.add_input_stream::<bool>());
    let mut tables = Vec::new();
    let mut table_streams = Vec::new();
    for _ in &program.tables {
        let (s, h) = circuit.add_input_zset::<DRow>();
        tables.push(h);
        table_streams.push(s);
    }
    let waterlines = (!program.waterlines().is_empty()).then(|| {
        let (stream, handle) = circuit.add_input_stream::<DRow>();
        // dbsp resets the input to an empty row after each step, and a transaction runs more steps than the one the
        // waterlines were set for. The retention policy in force when a step ends is the one dbsp's background
        // merges filter with until the next step, so it must keep the last waterlines set: with an empty row it
        // would keep everything, and the merges that happened to start then (most of them, measured) would trim
        // nothing. Waterlines only rise, so the last set are the tightest known.
        let last = std::cell::RefCell::new(DRow::default());
        let bound: BoundStream = stream.apply(move |w: &DRow| {
            if !w.values().is_empty() {
                *last.borrow_mut() = w.clone();
            }
            TypedBox::new(last.borrow().clone())
        });
        (bound, handle)
    });
    let mut builder = Builder {
        program,
        tables: table_streams,
        views: Vec::new(),
        unit: unit_stream,
        bound: waterlines.as_ref().map(|(bound, _)| bound.clone()),
    };
    let mut views = Vec::new();
    let mut contents = Vec::new();
    for v in &program.views {
        let s = builder.stream(&v.plan);
        views.push(s.accumulate_output());
        contents.push(guard.as_ref().filter(|_| v.materialized).map(|(guard, _)| {
            s.integrate_trace()
                .apply(|trace| trace.ro_snapshot())
                .output_guarded(guard)
        }));
        builder.views.push(s);
    }
    let duplicates = program
        .indexes
        .iter()
        .map(|index| duplicate_keys(&builder, program, index))
        .collect();
    CircuitHandles {
        tables,
        unit,
        views,
        contents,
        duplicates,
        snapshot_guard: guard.map(|(_, handle)| handle),
        waterlines: waterlines.map(|(_, handle)| handle),
    }
}

/// The keys of `index` that more than one row of its view has: a count of rows per key (one integer per key of the
/// view, checkpointed with the rest of the circuit), of which the changes to a count above 1 are output. This is
/// what lets an output connector keyed by the index refuse a key that an earlier step already gave a row.
fn duplicate_keys(
    builder: &Builder<'_>,
    program: &Program,
    index: &IndexDef,
) -> OutputHandle<SpineSnapshot<OrdZSet<DRow>>> {
    let v = program
        .views
        .iter()
        .position(|v| v.relation.name == index.view)
        .expect("an index is on a view of its program");
    let columns: Vec<usize> = index
        .columns
        .iter()
        .map(|c| {
            program.views[v]
                .relation
                .field_index(c)
                .expect("an index's columns are its view's")
        })
        .collect();
    builder.views[v]
        .map_index(move |r: &DRow| {
            let key: DRow = columns.iter().map(|&c| r.values()[c].clone()).collect();
            (key, ())
        })
        .weighted_count()
        .filter(|(_, rows): (&DRow, &i64)| *rows > 1)
        .map(|(key, rows): (&DRow, &i64)| DRow::of(concat(key.values(), &[Value::BigInt(*rows)])))
        .accumulate_output()
}

struct Builder<'a> {
    program: &'a Program,
    tables: Vec<RowStream>,
    views: Vec<RowStream>,
    unit: RowStream,
    /// The waterlines, when the program has any.
    bound: Option<BoundStream>,
}

fn concat(a: &[Value], b: &[Value]) -> Vec<Value> {
    let mut v = Vec::with_capacity(a.len() + b.len());
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    v
}

impl Builder<'_> {
    fn stream(&self, node: &Node) -> RowStream {
        match node {
            Node::Table(i) => self.tables[*i].clone(),
            Node::View(i) => self.views[*i].clone(),
            Node::Constant(rows) => {
                let rows: Vec<DRow> = rows.iter().cloned().map(DRow::from).collect();
                self.unit.flat_map(move |_| rows.clone())
            }
            // The projection over an inner join runs inside the join: the joined rows are never stored, only the
            // projected ones.
            Node::Map { input, exprs } if is_inner_join(input) => match input.as_ref() {
                Node::Join(j) => self.inner_join(j, Some(exprs)),
                _ => unreachable!("is_inner_join checked the input"),
            },
            Node::Filter { .. } | Node::Map { .. } => {
                let (source, chain) = RowChain::under(node);
                let input = self.stream(source);
                match chain.stages.as_ref() {
                    [Stage::Filter(p)] => {
                        let p = p.clone();
                        input.filter(move |r: &DRow| p.test(r.values()))
                    }
                    [Stage::Map(exprs)] => {
                        let project = projection(exprs);
                        input.map(move |r: &DRow| project(r.values()))
                    }
                    _ => input.flat_map(move |r: &DRow| chain.apply(r)),
                }
            }
            Node::Distinct(input) => self.stream(input).distinct(),
            Node::UnionAll(inputs) => {
                let mut streams = inputs.iter().map(|i| self.stream(i));
                match streams.next() {
                    Some(first) => streams.fold(first, |acc, s| acc.plus(&s)),
                    None => self.unit.filter(|_| false),
                }
            }
            Node::Join(j) => self.join(j),
            Node::Aggregate {
                input,
                keys,
                args,
                aggs,
            } => {
                let (key_of, args_of) = (projection(keys), projection(args));
                let retention = retention(&self.bound, self.program.key_anchors(input, keys));
                let input = self.stream(input);
                let out = match agg::LinearAggs::plan(aggs) {
                    // Running totals: a change updates its group's sums without reading the group's other rows.
                    // Each row is indexed by its share of the sums, not by its arguments, so the batch that dbsp
                    // sorts holds integers.
                    Some(linear) => {
                        let share = Arc::new(linear);
                        let read = share.clone();
                        let args = args.to_vec();
                        let shares = input.map_index(move |r: &DRow| {
                            let mut slots = Sums::zeroed(share.width());
                            share.contribute(|i| args[i].eval_ref(r.values()), &mut slots);
                            (key_of(r.values()), Sums::new(slots))
                        });
                        running_totals(&shares, &retention, move |k: &DRow, s: &Sums| {
                            let values = read.finish(&s.slots(read.width()));
                            DRow::of(concat(k.values(), &values))
                        })
                    }
                    None => {
                        let aggs = aggs.clone();
                        let body =
                            GroupFn(Arc::new(move |rows| DRow::of(agg::evaluate(&aggs, rows))));
                        let grouped = input
                            .map_index(move |r: &DRow| (key_of(r.values()), args_of(r.values())));
                        retain_keys(&grouped, &retention);
                        let groups = grouped.aggregate(body);
                        retain_keys(&groups, &retention);
                        groups
                            .map(|(k, v): (&DRow, &DRow)| DRow::of(concat(k.values(), v.values())))
                    }
                };
                if let Node::Aggregate { keys, .. } = node {
                    if keys.is_empty() {
                        return self.with_empty_group(out, agg::empty_result(aggs));
                    }
                }
                out
            }
            Node::TopK {
                input,
                partition,
                order,
                skip,
                fetch,
            } => {
                let (order, skip, fetch) = (order.clone(), *skip, *fetch);
                self.per_partition(input, partition, move |rows| {
                    window::top_k(rows, &order, skip, fetch)
                })
            }
            Node::Window {
                input,
                partition,
                order,
                calls,
                rank_limit,
            } => {
                let (order, calls, limit) = (order.clone(), calls.clone(), *rank_limit);
                self.per_partition(input, partition, move |rows| {
                    window::window(rows, &order, &calls, limit)
                })
            }
        }
    }

    /// A global aggregate has one row even over an empty input: add the empty-input row whenever the
    /// aggregate has no row (`out + default - default·|out|`).
    fn with_empty_group(&self, out: RowStream, empty: Vec<Value>) -> RowStream {
        let row = DRow::of(empty);
        let (r1, r2) = (row.clone(), row);
        let default = self.unit.map(move |_| r1.clone());
        let present = out.map(move |_| r2.clone());
        out.plus(&default).minus(&present)
    }

    /// Groups the input by `partition`, runs `f` over each changed partition and flattens its rows.
    fn per_partition(
        &self,
        input: &Node,
        partition: &[Scalar],
        f: impl Fn(&[(&[Value], i64)]) -> Vec<(Vec<Value>, i64)> + Send + Sync + 'static,
    ) -> RowStream {
        let partition_of = projection(partition);
        let retention = retention(&self.bound, self.program.key_anchors(input, partition));
        let partitions = self
            .stream(input)
            .map_index(move |r: &DRow| (partition_of(r.values()), r.clone()));
        retain_keys(&partitions, &retention);
        let outputs = partitions.aggregate(GroupFn(Arc::new(move |rows| pack(f(rows)))));
        retain_keys(&outputs, &retention);
        outputs.flat_map(|(_, packed): (&DRow, &DRow)| unpack(packed))
    }

    /// An inner join, with the projection above it (if any) applied to each pair as it is made.
    ///
    /// Each side is indexed by its key in one operator together with the projection and filter under it (the
    /// columns DataFusion pushes down), and the output row is picked column by column from the two sides when
    /// the projection only selects columns, so neither the side's projected rows nor the joined rows are stored
    /// as batches of their own.
    fn inner_join(&self, j: &JoinNode, projected: Option<&[Scalar]>) -> RowStream {
        let l_idx = self.keyed(&j.left, &j.left_keys, j.null_equal);
        let r_idx = self.keyed(&j.right, &j.right_keys, j.null_equal);
        // A side's stored rows with a key that no row still to come on the *other* side can have are dropped.
        let left_keys = self.program.key_anchors(&j.left, &j.left_keys);
        let right_keys = self.program.key_anchors(&j.right, &j.right_keys);
        retain_keys(&l_idx, &retention(&self.bound, right_keys));
        retain_keys(&r_idx, &retention(&self.bound, left_keys));
        let lw = j.left_width;
        let picks: Option<Vec<(bool, usize)>> = match (&j.residual, projected) {
            (None, Some(exprs)) => exprs
                .iter()
                .map(|e| {
                    e.as_column()
                        .map(|c| if c < lw { (true, c) } else { (false, c - lw) })
                })
                .collect(),
            _ => None,
        };
        if let Some(picks) = picks {
            return l_idx.join(&r_idx, move |_k, l: &DRow, r: &DRow| {
                let (l, r) = (l.values(), r.values());
                picks
                    .iter()
                    .map(|&(left, c)| if left { l[c].clone() } else { r[c].clone() })
                    .collect()
            });
        }
        let residual = j.residual.clone();
        let project = projected.map(projection);
        l_idx.join_flatmap(&r_idx, move |_k, l: &DRow, r: &DRow| {
            let row = concat(l.values(), r.values());
            if !residual.as_ref().is_none_or(|c| c.test(&row)) {
                return None;
            }
            Some(match &project {
                Some(p) => p(&row),
                None => DRow::of(row),
            })
        })
    }

    /// `node` indexed by `keys` (rows with a NULL key left out unless `null_equal`), with the projections and
    /// filters directly under it fused into the indexing operator.
    fn keyed(&self, node: &Node, keys: &[Scalar], null_equal: bool) -> KeyedStream {
        let key_of = key_fn(keys.to_vec(), null_equal);
        let (source, chain) = RowChain::under(node);
        self.stream(source).flat_map_index(move |r: &DRow| {
            let row = chain.apply(r)?;
            Some((key_of(row.values())?, row))
        })
    }

    fn join(&self, j: &JoinNode) -> RowStream {
        if j.kind == JoinKind::Inner {
            return self.inner_join(j, None);
        }
        let (left, right) = (self.stream(&j.left), self.stream(&j.right));
        let side = |keys: &[Scalar]| {
            let key_of = key_fn(keys.to_vec(), j.null_equal);
            move |r: &DRow| Some((key_of(r.values())?, r.clone()))
        };
        let l_idx = left.flat_map_index(side(&j.left_keys));
        let r_idx = right.flat_map_index(side(&j.right_keys));
        let pairs: RowStream = match &j.residual {
            None => l_idx.join(&r_idx, |_k, l: &DRow, r: &DRow| {
                DRow::of(concat(l.values(), r.values()))
            }),
            Some(cond) => {
                let cond = cond.clone();
                l_idx.join_flatmap(&r_idx, move |_k, l: &DRow, r: &DRow| {
                    let row = concat(l.values(), r.values());
                    cond.test(&row).then(|| DRow::of(row))
                })
            }
        };
        let (lw, rw) = (j.left_width, j.right_width);
        // The left (right) rows that took part in at least one pair.
        let matched_left = || {
            pairs
                .map(move |r: &DRow| DRow::of(r.values()[..lw].to_vec()))
                .distinct()
        };
        let matched_right = || {
            pairs
                .map(move |r: &DRow| DRow::of(r.values()[lw..].to_vec()))
                .distinct()
        };
        let pad_left = |s: RowStream| {
            s.map(move |r: &DRow| DRow::of(concat(r.values(), &vec![Value::Null; rw])))
        };
        let pad_right = |s: RowStream| {
            s.map(move |r: &DRow| DRow::of(concat(&vec![Value::Null; lw], r.values())))
        };
        match j.kind {
            JoinKind::Inner => pairs,
            JoinKind::Left => pairs.plus(&pad_left(unmatched(&left, &matched_left()))),
            JoinKind::Right => pairs.plus(&pad_right(unmatched(&right, &matched_right()))),
            JoinKind::Full => pairs
                .plus(&pad_left(unmatched(&left, &matched_left())))
                .plus(&pad_right(unmatched(&right, &matched_right()))),
            JoinKind::LeftSemi => matched(&left, &matched_left()),
            JoinKind::LeftAnti => unmatched(&left, &matched_left()),
            JoinKind::RightSemi => matched(&right, &matched_right()),
            JoinKind::RightAnti => unmatched(&right, &matched_right()),
        }
    }
}

/// A row's join key, or `None` when it has a NULL component and NULLs do not match (SQL equality never
/// matches NULL; set operations, `null_equal`, do).
fn key_fn(keys: Vec<Scalar>, null_equal: bool) -> impl Fn(&[Value]) -> Option<DRow> + Clone {
    move |r: &[Value]| {
        let k: DRow = keys.iter().map(|k| value_of(k, r)).collect();
        (null_equal || !k.values().iter().any(Value::is_null)).then_some(k)
    }
}

/// The row of `exprs` over a row.
fn projection(exprs: &[Scalar]) -> impl Fn(&[Value]) -> DRow + Clone + 'static {
    let exprs = exprs.to_vec();
    move |r: &[Value]| exprs.iter().map(|e| value_of(e, r)).collect()
}

fn by_row(s: &RowStream) -> Stream<RootCircuit, dbsp::OrdIndexedZSet<DRow, ()>> {
    s.map_index(|r: &DRow| (r.clone(), ()))
}

/// The rows of `all` (with their multiplicity) that occur in the set `present`.
fn matched(all: &RowStream, present: &RowStream) -> RowStream {
    by_row(all).join(&by_row(present), |k: &DRow, _: &(), _: &()| k.clone())
}

/// The rows of `all` (with their multiplicity) that do not occur in `present`.
fn unmatched(all: &RowStream, present: &RowStream) -> RowStream {
    by_row(all)
        .antijoin(&by_row(present))
        .map(|(k, _): (&DRow, &())| k.clone())
}
