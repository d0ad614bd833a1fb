//! Which revision of an incident is its current state: read from the `amends` links, never
//! from clocks.
//!
//! Every revision but the first names the one it amends, so an incident's revisions form a
//! tree. Its **heads** are the revisions no other revision amends. One head is the incident's
//! current state. Two or more are a **fork**: two devices (or one, restored from an old backup)
//! amended the same revision. A fork is never settled silently: every branch is kept, the
//! incident is shown as it was where the branches part (the newest revision all heads descend
//! from), and the conflict is reported for a person to settle. A revision that amends one head
//! continues that branch; the fork stays until only one head is left.
//!
//! ```
//! use vigil_ledger::lineage::{Lineage, Node};
//! use vigil_ledger::RevisionId;
//! use uuid::Uuid;
//!
//! let id = |n: u128| RevisionId(Uuid::from_u128(n));
//! let first = Node { id: id(1), amends: None };
//! let a = Node { id: id(2), amends: Some(id(1)) };
//! let b = Node { id: id(3), amends: Some(id(1)) };
//! let l = Lineage::of(&[first, a, b]);
//! assert_eq!(l.heads, vec![id(2), id(3)]);
//! assert_eq!(l.shown, Some(id(1)));
//! assert!(l.is_fork());
//!
//! let l = Lineage::of(&[first, a]);
//! assert_eq!((l.heads, l.shown), (vec![id(2)], Some(id(2))));
//! ```

use std::collections::{HashMap, HashSet};

use crate::RevisionId;

/// A revision as the lineage sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// The revision.
    pub id: RevisionId,
    /// The revision it amends.
    pub amends: Option<RevisionId>,
}

/// An incident's heads, and which revision it is shown as.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lineage {
    /// Revisions no other amends, by id.
    pub heads: Vec<RevisionId>,
    /// The only head; with a fork, the newest revision every head descends from (`None` if the
    /// heads share none, or there is no revision).
    pub shown: Option<RevisionId>,
}

impl Lineage {
    /// The lineage of one incident's revisions, in time linear in their number (each revision
    /// is visited at most once, however the branches lie).
    pub fn of(nodes: &[Node]) -> Lineage {
        let amended: HashSet<RevisionId> = nodes.iter().filter_map(|n| n.amends).collect();
        let parent: HashMap<RevisionId, RevisionId> = nodes
            .iter()
            .filter_map(|n| n.amends.map(|a| (n.id, a)))
            .collect();
        let mut heads: Vec<RevisionId> = nodes
            .iter()
            .map(|n| n.id)
            .filter(|id| !amended.contains(id))
            .collect();
        heads.sort();
        heads.dedup();
        let Some((first, rest)) = heads.split_first() else {
            return Lineage::default();
        };
        // The first head's path back to its first revision (stopping if stored links were
        // ever made to loop), and for every revision visited, where on that path its own path
        // meets it (`None`: never).
        let mut path = vec![*first];
        let mut meets: HashMap<RevisionId, Option<usize>> = HashMap::from([(*first, Some(0))]);
        while let Some(p) = path.last().and_then(|at| parent.get(at)) {
            if meets.contains_key(p) {
                break;
            }
            meets.insert(*p, Some(path.len()));
            path.push(*p);
        }
        // Every other head walks back until it reaches a revision already visited; the oldest
        // meeting point is where all heads part.
        let mut parting = 0;
        for head in rest {
            let mut walked = Vec::new();
            let mut seen = HashSet::new();
            let mut at = Some(*head);
            let met = loop {
                let Some(r) = at else { break None };
                if let Some(m) = meets.get(&r) {
                    break *m;
                }
                if !seen.insert(r) {
                    break None;
                }
                walked.push(r);
                at = parent.get(&r).copied();
            };
            for r in walked {
                meets.insert(r, met);
            }
            match met {
                Some(i) => parting = parting.max(i),
                None => {
                    return Lineage { heads, shown: None };
                }
            }
        }
        let shown = path.get(parting).copied();
        Lineage { heads, shown }
    }

    /// Whether the incident has more than one head.
    pub fn is_fork(&self) -> bool {
        self.heads.len() > 1
    }
}

/// A revision arriving with others, as [`apply_order`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arriving {
    /// The revision.
    pub id: RevisionId,
    /// Its device.
    pub device: vigil_model::DeviceId,
    /// Its place in the device's chain.
    pub device_seq: u64,
    /// The revision it amends.
    pub amends: Option<RevisionId>,
}

/// The order to apply revisions that arrive together in: each after the one it amends and
/// after its chain's previous, when those arrive too; otherwise by device and place. (A device
/// that enrolled speaks under a new id and amends what it sealed under its old one: sorting by
/// id alone could put the amendment first.) Returns indexes into `revs`. Links that loop are
/// broken somewhere; the rules then refuse what does not hold.
pub fn apply_order(revs: &[Arriving]) -> Vec<usize> {
    let mut by_place: Vec<usize> = (0..revs.len()).collect();
    by_place.sort_by_key(|&i| (revs[i].device, revs[i].device_seq));
    let index: HashMap<RevisionId, usize> =
        revs.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let previous: HashMap<(vigil_model::DeviceId, u64), usize> = revs
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.device, r.device_seq), i))
        .collect();
    let deps = |i: usize| {
        let r = &revs[i];
        let chain = r
            .device_seq
            .checked_sub(1)
            .and_then(|s| previous.get(&(r.device, s)).copied());
        let amended = r.amends.and_then(|a| index.get(&a).copied());
        [amended, chain]
    };
    // Depth first, after-order, without recursion.
    let mut state = vec![0u8; revs.len()];
    let mut out = Vec::with_capacity(revs.len());
    for &start in &by_place {
        let mut stack = vec![(start, false)];
        while let Some((i, expanded)) = stack.pop() {
            if expanded {
                state[i] = 2;
                out.push(i);
                continue;
            }
            if state[i] != 0 {
                continue;
            }
            state[i] = 1;
            stack.push((i, true));
            for d in deps(i).into_iter().flatten() {
                if state[d] == 0 {
                    stack.push((d, false));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use uuid::Uuid;

    fn id(n: u128) -> RevisionId {
        RevisionId(Uuid::from_u128(n))
    }

    fn node(n: u128, amends: Option<u128>) -> Node {
        Node {
            id: id(n),
            amends: amends.map(id),
        }
    }

    #[test]
    fn forks_are_shown_where_they_part_and_continue_by_branch() {
        // 1 <- 2 <- 3, and 2 <- 4: the branches part at 2.
        let nodes = [
            node(1, None),
            node(2, Some(1)),
            node(3, Some(2)),
            node(4, Some(2)),
        ];
        let l = Lineage::of(&nodes);
        assert_eq!(
            (l.heads.clone(), l.shown),
            (vec![id(3), id(4)], Some(id(2)))
        );
        // Arrival order does not matter.
        let mut rev = nodes;
        rev.reverse();
        assert_eq!(Lineage::of(&rev), l);
        // 5 continues the branch of 3: still a fork, now between 4 and 5.
        let more = [nodes.as_slice(), &[node(5, Some(3))]].concat();
        let l = Lineage::of(&more);
        assert_eq!((l.heads, l.shown), (vec![id(4), id(5)], Some(id(2))));
        // Two first revisions share nothing.
        let l = Lineage::of(&[node(1, None), node(2, None)]);
        assert_eq!((l.heads.len(), l.shown), (2, None));
        assert_eq!(Lineage::of(&[]), Lineage::default());
        // Links that loop do not hang.
        let l = Lineage::of(&[node(1, Some(2)), node(2, Some(1)), node(3, Some(1))]);
        assert_eq!(l.heads, vec![id(3)]);
        // Heads that meet the first head's path at different places: shown where all part.
        let nodes = [
            node(1, None),
            node(2, Some(1)),
            node(3, Some(2)),
            node(4, Some(3)),
            node(5, Some(3)),
            node(6, Some(1)),
        ];
        assert_eq!(Lineage::of(&nodes).shown, Some(id(1)));
        assert_eq!(Lineage::of(&nodes[..5]).shown, Some(id(3)));
    }

    #[test]
    fn what_arrives_together_is_applied_after_what_it_builds_on() {
        use vigil_model::DeviceId;
        // The new id sorts before the old one, and its revision amends the old id's last.
        let old = DeviceId::from_uuid(Uuid::from_u128(2 << 100));
        let new = DeviceId::from_uuid(Uuid::from_u128(1 << 100));
        let arriving = |n: u128, device, seq, amends: Option<u128>| Arriving {
            id: id(n),
            device,
            device_seq: seq,
            amends: amends.map(id),
        };
        let revs = [
            arriving(12, new, 2, Some(11)),
            arriving(11, new, 1, Some(2)),
            arriving(2, old, 2, Some(1)),
            arriving(1, old, 1, None),
            arriving(7, old, 3, None),
        ];
        let order: Vec<RevisionId> = apply_order(&revs).iter().map(|&i| revs[i].id).collect();
        let at = |n| order.iter().position(|r| *r == id(n)).unwrap();
        assert_eq!(order.len(), 5);
        assert!(at(1) < at(2) && at(2) < at(11) && at(11) < at(12) && at(2) < at(7));
        // A loop does not hang, and everything is still in the order once.
        let looped = [arriving(1, old, 1, Some(2)), arriving(2, old, 2, Some(1))];
        let mut order = apply_order(&looped);
        order.sort();
        assert_eq!(order, vec![0, 1]);
    }

    #[test]
    fn a_long_history_with_many_heads_is_read_in_one_pass() {
        // A chain of 100 000 revisions, and 100 000 more each amending its end: an insider can
        // send that; reading it must not take the square of it.
        let n = 100_000u128;
        let mut nodes: Vec<Node> = (1..=n).map(|i| node(i, (i > 1).then(|| i - 1))).collect();
        nodes.extend((n + 1..=2 * n).map(|i| node(i, Some(n))));
        let l = Lineage::of(&nodes);
        assert_eq!((l.heads.len(), l.shown), (n as usize, Some(id(n))));
    }
}
