//! Running totals of a group, as dbsp's linear aggregation keeps them.
//!
//! dbsp's `aggregate_linear` sums a value per row, times the row's weight, into one total per group and updates
//! the total with each change; for that the value must be a weight type (a commutative group that can be
//! multiplied by a weight, archived and measured). [`Sums`] is that type for the sums a
//! [`LinearAggs`](sluice_sql::agg::LinearAggs) asks for. Arithmetic wraps, like the rescanning aggregates', so
//! it is a group for any input and both paths agree even on overflow.

use std::borrow::Cow;

use dbsp::algebra::{AddAssignByRef, AddByRef, HasZero, MulByRef, NegByRef};
use rkyv::ser::{ScratchSpace, Serializer};
use rkyv::vec::{ArchivedVec, VecResolver};
use rkyv::{Archive, Deserialize, Fallible, Serialize};
use size_of::{Context, SizeOf};
use smallvec::SmallVec;

/// How many sums a group keeps without a heap allocation: dbsp makes one `Sums` per input row and multiplies and
/// adds them, so an allocation here is one per row.
pub const INLINE_SLOTS: usize = 3;

/// A group's sums, slot by slot; all zero (or none at all) means the group is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sums(SmallVec<[i128; INLINE_SLOTS]>);

impl Sums {
    /// Sums with the given slots.
    pub fn new(slots: impl IntoIterator<Item = i128>) -> Self {
        let mut s = Sums(slots.into_iter().collect());
        s.normalize();
        s
    }

    /// `width` zeroed slots, for a row to write its share into.
    pub fn zeroed(width: usize) -> SmallVec<[i128; INLINE_SLOTS]> {
        SmallVec::from_elem(0, width)
    }

    /// The first `width` slots, zeros where this holds fewer.
    pub fn slots(&self, width: usize) -> Cow<'_, [i128]> {
        if self.0.len() >= width {
            Cow::Borrowed(&self.0[..width])
        } else {
            let mut v = self.0.to_vec();
            v.resize(width, 0);
            Cow::Owned(v)
        }
    }

    /// One zero has one representation (no slots), so that equal totals compare equal.
    fn normalize(&mut self) {
        if self.0.iter().all(|x| *x == 0) {
            self.0.clear();
        }
    }
}

impl HasZero for Sums {
    fn is_zero(&self) -> bool {
        self.0.iter().all(|x| *x == 0)
    }

    fn zero() -> Self {
        Sums(SmallVec::new())
    }
}

impl AddAssignByRef for Sums {
    fn add_assign_by_ref(&mut self, other: &Self) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = a.wrapping_add(*b);
        }
        self.normalize();
    }
}

impl AddByRef for Sums {
    fn add_by_ref(&self, other: &Self) -> Self {
        let mut sum = self.clone();
        sum.add_assign_by_ref(other);
        sum
    }
}

impl NegByRef for Sums {
    fn neg_by_ref(&self) -> Self {
        Sums(self.0.iter().map(|x| x.wrapping_neg()).collect())
    }
}

impl MulByRef<i64> for Sums {
    type Output = Sums;

    fn mul_by_ref(&self, w: &i64) -> Sums {
        let w = i128::from(*w);
        Sums::new(self.0.iter().map(|x| x.wrapping_mul(w)))
    }
}

impl SizeOf for Sums {
    fn size_of_children(&self, context: &mut Context) {
        if self.0.spilled() {
            context.add_vectorlike(self.0.len(), self.0.capacity(), std::mem::size_of::<i128>());
        }
    }
}

// Archived as a plain vector of the slots (batches spill to disk and go into checkpoints).
impl Archive for Sums {
    type Archived = ArchivedVec<i128>;
    type Resolver = VecResolver;

    unsafe fn resolve(&self, pos: usize, resolver: Self::Resolver, out: *mut Self::Archived) {
        ArchivedVec::resolve_from_len(self.0.len(), pos, resolver, out);
    }
}

impl<S: ScratchSpace + Serializer + ?Sized> Serialize<S> for Sums {
    fn serialize(&self, serializer: &mut S) -> Result<Self::Resolver, S::Error> {
        ArchivedVec::serialize_from_slice(&self.0, serializer)
    }
}

impl<D: Fallible + ?Sized> Deserialize<Sums, D> for ArchivedVec<i128> {
    fn deserialize(&self, _deserializer: &mut D) -> Result<Sums, D::Error> {
        Ok(Sums(self.iter().copied().collect()))
    }
}

crate::row::plain_dbsp_data!(Sums);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_add_slot_by_slot_and_cancel_to_the_one_zero() {
        let a = Sums::new([1, 5, -3]);
        let b = Sums::new([2, 1]);
        assert_eq!(a.add_by_ref(&b), Sums::new([3, 6, -3]));
        assert_eq!(a.add_by_ref(&a.neg_by_ref()), Sums::zero());
        assert!(a.add_by_ref(&a.neg_by_ref()).is_zero());
        assert_eq!(a.mul_by_ref(&-2), Sums::new([-2, -10, 6]));
        assert_eq!(a.mul_by_ref(&0), Sums::zero());
        assert_eq!(b.slots(3).as_ref(), &[2, 1, 0]);
    }

    #[test]
    fn sums_come_back_from_their_archive() {
        for sums in [
            Sums::zero(),
            Sums::new([7, i128::MIN, -1]),
            Sums::new((0..9).map(|i| i * 1_000_000_000_000_000_000_000)),
        ] {
            let bytes = rkyv::to_bytes::<_, 256>(&sums).expect("serialize");
            let archived = unsafe { rkyv::archived_root::<Sums>(&bytes) };
            let back: Sums = archived
                .deserialize(&mut rkyv::Infallible)
                .expect("deserialize");
            assert_eq!(back, sums);
        }
    }

    #[test]
    fn overflow_wraps_so_that_adding_back_restores_the_total() {
        let big = Sums::new([1, i128::MAX]);
        let wrapped = big.add_by_ref(&Sums::new([1, 1]));
        assert_eq!(wrapped, Sums::new([2, i128::MIN]));
        assert_eq!(
            wrapped.add_by_ref(&Sums::new([-1, -1])),
            big,
            "a delete undoes an insert even across the overflow"
        );
    }
}
