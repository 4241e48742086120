//! A partition's replica group: one replica per availability zone, a leader that orders writes
//! in a log, followers that persist it, and commit once a majority holds an entry.
//!
//! [`Replica`] is a pure state machine driven by messages (Raft's log replication and leader
//! election, with no timers inside): the host decides when a replica campaigns (a lease ran
//! out) or sends heartbeats, and delivers, delays, drops or duplicates messages as its network
//! does. The engine hosts a group in-process (`partition`), the simulator hosts each replica on
//! its own node, and the model checker explores the same code.
//!
//! Guarantees, tested over random schedules in this module's tests:
//! - an entry a leader has committed (a majority persisted it) is in the log of every later
//!   leader at the same index, so leader changes lose no acknowledged write;
//! - two replicas never commit different entries at the same index.
//!
//! A new leader first commits an empty entry of its own term; until then it is not
//! [`ready`](Replica::is_ready_leader) to serve strongly consistent reads, which must see every
//! acknowledged write.

/// One log entry: the leader's term when it was appended and the write it carries (`None` for
/// the empty entry a new leader appends).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogEntry<E> {
    pub term: u64,
    pub payload: Option<E>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Message<E> {
    /// Leader to follower: entries after `prev_index`, and the leader's commit index.
    Append {
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<LogEntry<E>>,
        commit: u64,
    },
    /// Follower to leader. On success `match_index` is the last index the follower now
    /// agrees on; on failure it is the follower's last index, a hint for the retry.
    AppendReply {
        term: u64,
        success: bool,
        match_index: u64,
    },
    RequestVote {
        term: u64,
        last_index: u64,
        last_term: u64,
    },
    Vote {
        term: u64,
        granted: bool,
    },
}

impl<E> Message<E> {
    pub fn term(&self) -> u64 {
        match self {
            Message::Append { term, .. }
            | Message::AppendReply { term, .. }
            | Message::RequestVote { term, .. }
            | Message::Vote { term, .. } => *term,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// At most this many entries travel in one Append: a follower far behind catches up over
/// several round trips instead of receiving the whole tail again with every proposal.
pub const MAX_APPEND_ENTRIES: usize = 256;

/// Messages a replica wants sent: (destination replica, message).
pub type Outbox<E> = Vec<(usize, Message<E>)>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Replica<E> {
    id: usize,
    group_size: usize,
    // Persistent state: survives `restart`.
    term: u64,
    voted_for: Option<usize>,
    /// Index and term of the last entry dropped by `compact` (0, 0 when none was).
    base_index: u64,
    base_term: u64,
    log: Vec<LogEntry<E>>,
    // Volatile state.
    commit: u64,
    role: Role,
    votes: u64,
    /// First index of the current leader term (its empty entry), when leader.
    term_start: u64,
    next_index: Vec<u64>,
    match_index: Vec<u64>,
}

impl<E: Clone> Replica<E> {
    /// A replica of a new group, as a follower in term 0.
    pub fn new(id: usize, group_size: usize) -> Replica<E> {
        assert!(
            id < group_size,
            "replica {id} is not in a group of {group_size}"
        );
        assert!(
            group_size <= 64,
            "a group has at most 64 replicas (votes are a u64 bitmap), not {group_size}"
        );
        Replica {
            id,
            group_size,
            term: 0,
            voted_for: None,
            base_index: 0,
            base_term: 0,
            log: Vec::new(),
            commit: 0,
            role: Role::Follower,
            votes: 0,
            term_start: 0,
            next_index: vec![1; group_size],
            match_index: vec![0; group_size],
        }
    }

    /// A replica of a new group whose term-1 leader is `leader`, as if that election had
    /// already happened with every vote (how a new partition starts).
    pub fn bootstrap(id: usize, group_size: usize, leader: usize) -> Replica<E> {
        let mut replica = Replica::new(id, group_size);
        replica.term = 1;
        replica.voted_for = Some(leader);
        if id == leader {
            // An empty log: there is nothing from earlier terms to commit first.
            replica.role = Role::Leader;
            replica.term_start = 0;
        }
        replica
    }

    pub fn id(&self) -> usize {
        self.id
    }
    pub fn term(&self) -> u64 {
        self.term
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn commit(&self) -> u64 {
        self.commit
    }
    pub fn last_index(&self) -> u64 {
        self.base_index + self.log.len() as u64
    }
    pub fn first_index(&self) -> u64 {
        self.base_index + 1
    }

    /// A leader that has committed an entry of its own term: its committed log holds every
    /// acknowledged write, so it may serve strongly consistent reads.
    pub fn is_ready_leader(&self) -> bool {
        self.role == Role::Leader && self.commit >= self.term_start
    }

    /// The entry at `index`, if the log still holds it.
    pub fn entry(&self, index: u64) -> Option<&LogEntry<E>> {
        if index <= self.base_index {
            return None;
        }
        self.log.get((index - self.base_index - 1) as usize)
    }

    fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.base_index {
            Some(self.base_term)
        } else {
            self.entry(index).map(|e| e.term)
        }
    }

    fn last_term(&self) -> u64 {
        self.log.last().map_or(self.base_term, |e| e.term)
    }

    fn majority(&self) -> usize {
        self.group_size / 2 + 1
    }

    /// Appends a write if this replica leads, returning its index and the messages that
    /// replicate it. The write is acknowledged once [`commit`](Self::commit) reaches the index
    /// while the entry there is still this one.
    pub fn propose(&mut self, payload: E) -> Option<(u64, Outbox<E>)> {
        let mut out = Vec::new();
        let index = self.propose_into(payload, &mut out)?;
        Some((index, out))
    }

    /// Leader: sends every peer what it lacks (nothing, with the commit index, when it is up
    /// to date). Others send nothing.
    pub fn heartbeat(&self) -> Outbox<E> {
        if self.role == Role::Leader {
            self.broadcast_append()
        } else {
            Vec::new()
        }
    }

    /// Leader: the Append that brings `peer` up to date (everything after what it is known
    /// to hold, with the commit index); `None` for a follower or candidate.
    pub fn append_to(&self, peer: usize) -> Option<Message<E>> {
        if self.role != Role::Leader || peer == self.id || peer >= self.group_size {
            return None;
        }
        self.append_for(peer)
    }

    fn broadcast_append(&self) -> Outbox<E> {
        let mut out = Vec::new();
        self.broadcast_append_into(&mut out);
        out
    }

    fn broadcast_append_into(&self, out: &mut Outbox<E>) {
        for peer in (0..self.group_size).filter(|&peer| peer != self.id) {
            if let Some(m) = self.append_for(peer) {
                out.push((peer, m));
            }
        }
    }

    /// [`propose`](Self::propose), appending the messages to `out`.
    pub fn propose_into(&mut self, payload: E, out: &mut Outbox<E>) -> Option<u64> {
        if self.role != Role::Leader {
            return None;
        }
        self.log.push(LogEntry {
            term: self.term,
            payload: Some(payload),
        });
        let index = self.last_index();
        self.match_index[self.id] = index;
        if self.group_size == 1 {
            self.commit = index;
        }
        self.broadcast_append_into(out);
        Some(index)
    }

    fn append_for(&self, peer: usize) -> Option<Message<E>> {
        let prev_index = self.next_index[peer].saturating_sub(1).max(self.base_index);
        // Entries compacted away cannot be resent; the group compacts only what every
        // replica has applied, so this does not happen in a healthy group.
        let prev_term = self.term_at(prev_index)?;
        let from = (prev_index - self.base_index) as usize;
        Some(Message::Append {
            term: self.term,
            prev_index,
            prev_term,
            entries: self.log[from..]
                .iter()
                .take(MAX_APPEND_ENTRIES)
                .cloned()
                .collect(),
            commit: self.commit,
        })
    }

    /// Starts an election for the next term (the host calls this when the leader's lease ran
    /// out from this replica's point of view).
    pub fn campaign(&mut self) -> Outbox<E> {
        self.term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.id);
        self.votes = 1 << self.id;
        if self.group_size == 1 {
            self.become_leader();
            return Vec::new();
        }
        let message = Message::RequestVote {
            term: self.term,
            last_index: self.last_index(),
            last_term: self.last_term(),
        };
        (0..self.group_size)
            .filter(|&peer| peer != self.id)
            .map(|peer| (peer, message.clone()))
            .collect()
    }

    /// A crash and restart: the log, term and vote were persisted; the rest is lost.
    pub fn restart(&mut self) {
        self.role = Role::Follower;
        self.votes = 0;
        self.commit = self.base_index;
        self.term_start = 0;
        self.next_index = vec![self.last_index() + 1; self.group_size];
        self.match_index = vec![0; self.group_size];
    }

    /// Drops log entries up to `index` (which must be committed): the host has applied them
    /// everywhere it needs them.
    pub fn compact(&mut self, index: u64) {
        let index = index.min(self.commit);
        if index <= self.base_index {
            return;
        }
        let count = (index - self.base_index) as usize;
        self.base_term = self.log[count - 1].term;
        self.log.drain(..count);
        self.base_index = index;
    }

    fn step_down(&mut self, term: u64) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
        }
        self.role = Role::Follower;
        self.votes = 0;
    }

    fn become_leader(&mut self) {
        self.role = Role::Leader;
        let next = self.last_index() + 1;
        self.next_index = vec![next; self.group_size];
        self.match_index = vec![0; self.group_size];
        self.log.push(LogEntry {
            term: self.term,
            payload: None,
        });
        self.term_start = self.last_index();
        self.match_index[self.id] = self.last_index();
        if self.group_size == 1 {
            self.commit = self.last_index();
        }
    }

    /// Handles one message from replica `from`, returning what to send.
    pub fn handle(&mut self, from: usize, message: Message<E>) -> Outbox<E> {
        let mut out = Vec::new();
        self.handle_into(from, message, &mut out);
        out
    }

    /// [`handle`](Self::handle), appending what to send to `out` (no allocation when `out`
    /// has room).
    pub fn handle_into(&mut self, from: usize, message: Message<E>, out: &mut Outbox<E>) {
        let commit_before = self.commit;
        self.handle_message(from, message, out);
        assert!(
            self.commit >= commit_before,
            "replica {}: commit went back from {commit_before} to {}",
            self.id,
            self.commit
        );
        assert!(
            self.commit <= self.last_index(),
            "replica {}: commit {} is past the last index {}",
            self.id,
            self.commit,
            self.last_index()
        );
    }

    fn handle_message(&mut self, from: usize, message: Message<E>, out: &mut Outbox<E>) {
        if message.term() > self.term {
            self.step_down(message.term());
        }
        match message {
            Message::Append {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => {
                if term < self.term {
                    out.push((
                        from,
                        Message::AppendReply {
                            term: self.term,
                            success: false,
                            match_index: self.last_index(),
                        },
                    ));
                    return;
                }
                // A current-term Append comes from the one leader of this term.
                if self.role != Role::Follower {
                    self.step_down(term);
                }
                self.voted_for = Some(from);
                let consistent = if prev_index < self.base_index {
                    // Older than what we compacted: only committed (hence matching) entries
                    // lie there; skip those we already have.
                    true
                } else {
                    self.term_at(prev_index) == Some(prev_term)
                };
                if !consistent {
                    out.push((
                        from,
                        Message::AppendReply {
                            term: self.term,
                            success: false,
                            match_index: self.last_index().min(prev_index.saturating_sub(1)),
                        },
                    ));
                    return;
                }
                let mut index = prev_index;
                for entry in entries {
                    index += 1;
                    if index <= self.base_index {
                        continue;
                    }
                    match self.term_at(index) {
                        Some(t) if t == entry.term => {}
                        Some(_) => {
                            // A conflicting suffix: it was never committed; replace it.
                            self.log.truncate((index - self.base_index - 1) as usize);
                            self.log.push(entry);
                        }
                        None => self.log.push(entry),
                    }
                }
                if commit > self.commit {
                    self.commit = commit.min(index).max(self.commit);
                }
                out.push((
                    from,
                    Message::AppendReply {
                        term: self.term,
                        success: true,
                        match_index: index,
                    },
                ));
            }
            Message::AppendReply {
                term,
                success,
                match_index,
            } => {
                if term < self.term || self.role != Role::Leader {
                    return;
                }
                if success {
                    if match_index > self.match_index[from] {
                        self.match_index[from] = match_index;
                    }
                    self.next_index[from] = self.next_index[from].max(match_index + 1);
                    self.advance_commit();
                } else {
                    let next = (match_index + 1)
                        .min(self.next_index[from].saturating_sub(1))
                        .max(self.match_index[from] + 1)
                        .max(1);
                    self.next_index[from] = next;
                    if let Some(m) = self.append_for(from) {
                        out.push((from, m));
                    }
                }
            }
            Message::RequestVote {
                term,
                last_index,
                last_term,
            } => {
                let up_to_date = (last_term, last_index) >= (self.last_term(), self.last_index());
                let granted =
                    term == self.term && up_to_date && self.voted_for.is_none_or(|v| v == from);
                if granted {
                    self.voted_for = Some(from);
                }
                out.push((
                    from,
                    Message::Vote {
                        term: self.term,
                        granted,
                    },
                ));
            }
            Message::Vote { term, granted } => {
                if term == self.term && granted && self.role == Role::Candidate {
                    self.votes |= 1 << from;
                    if self.votes.count_ones() as usize >= self.majority() {
                        self.become_leader();
                        self.broadcast_append_into(out);
                    }
                }
            }
        }
    }

    fn advance_commit(&mut self) {
        let mut index = self.last_index();
        while index > self.commit {
            // Only entries of the current term commit by counting (Raft §5.4.2); earlier ones
            // commit with them.
            if self.term_at(index) != Some(self.term) {
                break;
            }
            let count = self.match_index.iter().filter(|&&m| m >= index).count();
            if count >= self.majority() {
                self.commit = index;
                break;
            }
            index -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn append_to_carries_what_the_peer_lacks() {
        let mut leader: Replica<u32> = Replica::bootstrap(0, 3, 0);
        let mut follower: Replica<u32> = Replica::bootstrap(1, 3, 0);
        assert!(
            follower.append_to(0).is_none(),
            "only a leader sends Appends"
        );
        assert!(leader.append_to(0).is_none(), "not to itself");
        leader.propose(7).unwrap();
        leader.propose(8).unwrap();
        let Some(Message::Append { entries, .. }) = leader.append_to(1) else {
            panic!("an Append")
        };
        let payloads: Vec<_> = entries.iter().filter_map(|e| e.payload).collect();
        assert_eq!(payloads, vec![7, 8]);
        // Once the follower acknowledged both, the next Append to it carries nothing.
        let reply = follower.handle(0, leader.append_to(1).unwrap());
        for (_, m) in reply {
            leader.handle(1, m);
        }
        let Some(Message::Append {
            entries, commit, ..
        }) = leader.append_to(1)
        else {
            panic!("an Append")
        };
        assert!(entries.is_empty());
        assert_eq!(commit, leader.last_index(), "a majority holds everything");
    }

    #[derive(Clone, Debug)]
    enum Step {
        Propose(usize, u32),
        Deliver(usize),
        Drop(usize),
        Duplicate(usize),
        Campaign(usize),
        Heartbeat(usize),
        Restart(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0..3usize, any::<u32>()).prop_map(|(r, v)| Step::Propose(r, v)),
            8 => any::<usize>().prop_map(Step::Deliver),
            1 => any::<usize>().prop_map(Step::Drop),
            1 => any::<usize>().prop_map(Step::Duplicate),
            1 => (0..3usize).prop_map(Step::Campaign),
            2 => (0..3usize).prop_map(Step::Heartbeat),
            1 => (0..3usize).prop_map(Step::Restart),
        ]
    }

    /// A group on a network that reorders, drops and duplicates, with the acknowledged
    /// entries observed so far: index → (entry, the leader term that committed it).
    struct Cluster {
        replicas: Vec<Replica<u32>>,
        network: Vec<(usize, usize, Message<u32>)>,
        acked: BTreeMap<u64, (LogEntry<u32>, u64)>,
    }

    impl Cluster {
        fn new() -> Cluster {
            Cluster {
                replicas: (0..3).map(|i| Replica::bootstrap(i, 3, 0)).collect(),
                network: Vec::new(),
                acked: BTreeMap::new(),
            }
        }

        fn send(&mut self, from: usize, out: Outbox<u32>) {
            self.network
                .extend(out.into_iter().map(|(to, m)| (from, to, m)));
        }

        fn apply(&mut self, step: &Step) {
            match *step {
                Step::Propose(r, v) => {
                    if let Some((_, out)) = self.replicas[r].propose(v) {
                        self.send(r, out);
                    }
                }
                Step::Deliver(k) | Step::Drop(k) | Step::Duplicate(k) => {
                    if self.network.is_empty() {
                        return;
                    }
                    let k = k % self.network.len();
                    let (from, to, message) = if matches!(step, Step::Duplicate(_)) {
                        self.network[k].clone()
                    } else {
                        self.network.swap_remove(k)
                    };
                    if !matches!(step, Step::Drop(_)) {
                        let out = self.replicas[to].handle(from, message);
                        self.send(to, out);
                    }
                }
                Step::Campaign(r) => {
                    let out = self.replicas[r].campaign();
                    self.send(r, out);
                }
                Step::Heartbeat(r) => {
                    let out = self.replicas[r].heartbeat();
                    self.send(r, out);
                }
                Step::Restart(r) => self.replicas[r].restart(),
            }
            self.observe_acks();
        }

        fn observe_acks(&mut self) {
            for replica in &self.replicas {
                if replica.role() != Role::Leader {
                    continue;
                }
                for index in replica.first_index()..=replica.commit() {
                    let entry = replica.entry(index).expect("uncompacted").clone();
                    self.acked.entry(index).or_insert((entry, replica.term()));
                }
            }
        }

        fn check(&self) -> Result<(), String> {
            // Committed prefixes agree.
            for a in &self.replicas {
                for b in &self.replicas {
                    for index in 1..=a.commit().min(b.commit()) {
                        if a.entry(index) != b.entry(index) {
                            return Err(format!(
                                "replicas {} and {} committed different entries at {index}",
                                a.id(),
                                b.id()
                            ));
                        }
                    }
                }
            }
            // Every acknowledged entry is in the log of every leader since.
            for (index, (entry, term)) in &self.acked {
                for r in &self.replicas {
                    if r.role() == Role::Leader
                        && r.term() >= *term
                        && r.entry(*index) != Some(entry)
                    {
                        return Err(format!(
                            "leader {} of term {} lost acknowledged entry {index}",
                            r.id(),
                            r.term()
                        ));
                    }
                }
            }
            Ok(())
        }

        /// Heals the network: delivers everything, elects a leader if needed, and runs
        /// heartbeat rounds until every replica commits the same log.
        fn heal(&mut self) {
            for round in 0..20 {
                while let Some((from, to, message)) = self.network.pop() {
                    let out = self.replicas[to].handle(from, message);
                    self.send(to, out);
                }
                self.observe_acks();
                let leaders: Vec<usize> = (0..3)
                    .filter(|&r| self.replicas[r].role() == Role::Leader)
                    .collect();
                let top = leaders
                    .iter()
                    .copied()
                    .max_by_key(|&r| self.replicas[r].term());
                match top {
                    Some(l)
                        if self
                            .replicas
                            .iter()
                            .all(|r| r.term() <= self.replicas[l].term()) =>
                    {
                        let out = self.replicas[l].heartbeat();
                        self.send(l, out);
                    }
                    _ => {
                        let r = round % 3;
                        let out = self.replicas[r].campaign();
                        self.send(r, out);
                    }
                }
            }
            while let Some((from, to, message)) = self.network.pop() {
                let out = self.replicas[to].handle(from, message);
                self.send(to, out);
            }
            self.observe_acks();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn no_acknowledged_write_is_lost(steps in proptest::collection::vec(step(), 1..200)) {
            let mut cluster = Cluster::new();
            for step in &steps {
                cluster.apply(step);
                prop_assert_eq!(cluster.check(), Ok(()));
            }
            cluster.heal();
            prop_assert_eq!(cluster.check(), Ok(()));
            let leader = cluster.replicas.iter().find(|r| r.is_ready_leader());
            prop_assert!(leader.is_some(), "a healed group has a ready leader");
            let commit = leader.unwrap().commit();
            for r in &cluster.replicas {
                prop_assert_eq!(r.commit(), commit, "healed replicas converge");
            }
            for (index, (entry, _)) in &cluster.acked {
                for r in &cluster.replicas {
                    prop_assert_eq!(r.entry(*index), Some(entry));
                }
            }
        }
    }

    #[test]
    fn a_write_commits_once_a_majority_has_it() {
        let mut replicas: Vec<Replica<u32>> = (0..3).map(|i| Replica::bootstrap(i, 3, 0)).collect();
        let (index, out) = replicas[0].propose(7).unwrap();
        assert_eq!(index, 1);
        assert_eq!(replicas[0].commit(), 0);
        // Only follower 1 hears of it: that is a majority.
        let (to, message) = out.into_iter().find(|(to, _)| *to == 1).unwrap();
        let reply = replicas[to].handle(0, message);
        assert_eq!(replicas[1].commit(), 0);
        for (_, m) in reply {
            replicas[0].handle(1, m);
        }
        assert_eq!(replicas[0].commit(), 1);
        // Follower 2 missed it; the next heartbeat brings it the entry and the commit index.
        for (to, m) in replicas[0].heartbeat() {
            replicas[to].handle(0, m);
        }
        assert_eq!(replicas[2].commit(), 1);
        assert_eq!(replicas[2].entry(1).unwrap().payload, Some(7));
    }

    #[test]
    fn a_new_leader_is_ready_only_after_committing_in_its_term() {
        let mut replicas: Vec<Replica<u32>> = (0..3).map(|i| Replica::bootstrap(i, 3, 0)).collect();
        let out = replicas[1].campaign();
        let mut replies = Vec::new();
        for (to, m) in out {
            replies.extend(replicas[to].handle(1, m).into_iter().map(|(_, r)| (to, r)));
        }
        let mut appends = Vec::new();
        for (from, m) in replies {
            appends.extend(replicas[1].handle(from, m));
        }
        assert_eq!(replicas[1].role(), Role::Leader);
        assert!(!replicas[1].is_ready_leader());
        assert_eq!(replicas[0].role(), Role::Follower);
        for (to, m) in appends {
            let reply = replicas[to].handle(1, m);
            for (_, r) in reply {
                replicas[1].handle(to, r);
            }
        }
        assert!(replicas[1].is_ready_leader());
    }

    #[test]
    fn the_checker_sees_a_lost_write() {
        // A follower that wins an election without the acknowledged entry: the check must
        // report it (guards the property test against checking nothing).
        let mut cluster = Cluster::new();
        cluster.apply(&Step::Propose(0, 5));
        while !cluster.network.is_empty() {
            cluster.apply(&Step::Deliver(0));
        }
        assert_eq!(cluster.acked.len(), 1);
        let mut rogue = Replica::bootstrap(2, 3, 0);
        rogue.term = 5;
        rogue.role = Role::Leader;
        cluster.replicas[2] = rogue;
        assert!(cluster.check().is_err());
    }
}
