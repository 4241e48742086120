//! A hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014): timestamps are
//! the physical clock when it moved on, else the last timestamp's wall time with its logical
//! counter incremented. A region's clock observes every remote version it applies, so its next
//! write is newer than everything it has seen, even when its physical clock stepped backwards.

/// A timestamp: physical milliseconds, then a logical counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hlc {
    pub wall_ms: u64,
    pub logical: u32,
}

impl Hlc {
    pub fn new(wall_ms: u64, logical: u32) -> Hlc {
        Hlc { wall_ms, logical }
    }

    /// The smallest timestamp after this one.
    fn successor(self) -> Hlc {
        match self.logical.checked_add(1) {
            Some(logical) => Hlc { logical, ..self },
            None => Hlc::new(self.wall_ms + 1, 0),
        }
    }
}

/// One region's clock: the last timestamp it handed out or observed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Clock {
    last: Hlc,
}

impl Clock {
    /// A timestamp for a local event at physical time `physical_ms`: after every timestamp
    /// this clock handed out or observed.
    pub fn now(&mut self, physical_ms: u64) -> Hlc {
        self.last = if physical_ms > self.last.wall_ms {
            Hlc::new(physical_ms, 0)
        } else {
            self.last.successor()
        };
        self.last
    }

    /// Takes in a timestamp from elsewhere, so that later local ones follow it.
    pub fn observe(&mut self, remote: Hlc) {
        self.last = self.last.max(remote);
    }

    pub fn last(&self) -> Hlc {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_increase_whatever_the_physical_clock_does() {
        let mut clock = Clock::default();
        let a = clock.now(100);
        let b = clock.now(100);
        let c = clock.now(40); // the physical clock stepped backwards
        clock.observe(Hlc::new(500, 3));
        let d = clock.now(200);
        let e = clock.now(600);
        assert_eq!(a, Hlc::new(100, 0));
        assert_eq!(b, Hlc::new(100, 1));
        assert_eq!(c, Hlc::new(100, 2));
        assert_eq!(d, Hlc::new(500, 4));
        assert_eq!(e, Hlc::new(600, 0));
    }

    #[test]
    fn the_logical_counter_overflows_into_the_wall_time() {
        let mut clock = Clock::default();
        clock.observe(Hlc::new(7, u32::MAX));
        assert_eq!(clock.now(0), Hlc::new(8, 0));
    }
}
