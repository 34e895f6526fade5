//! The retained events of one topic, bounded by count, bytes and (optionally) age.
//!
//! Frames are packed one after another into *chunks*, so a retained event costs its bytes
//! plus a 16-byte slot, not an allocation of its own. A chunk holds a whole number of
//! frames of the size it is made for: at most a sixteenth of the history's length, at most
//! twice the previous chunk, and within about 4 KiB. So a topic keeping a few events uses
//! chunks of one frame, and a chunk half trimmed or half filled wastes little, while a
//! chunk's own costs (an allocation and a 32-byte handle) are shared by many frames in a
//! busy topic. Readers get each frame as a slice of a shared chunk: replaying copies no
//! bytes.
//!
//! The chunk being written is a `BytesMut`. Before a reader can take slices of its frames
//! they are cut off into a *piece* (a frozen `Bytes` over part of the chunk) and the rest
//! of the chunk goes on taking frames; a full chunk becomes a piece as it is. A slot's
//! offset is relative to its piece, so a frame at offset 0 starts a piece: that is how a
//! frame finds its piece.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use bytes::{Bytes, BytesMut};

/// How much history every topic keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) events: usize,
    pub(crate) bytes: usize,
    pub(crate) age: Option<Duration>,
}

/// The size a chunk stays within, unless one frame is larger.
const CHUNK: usize = 4096;
/// A chunk holds at most this fraction of the history's length in frames.
const CHUNK_SHARE: usize = 16;

/// A retained frame: its position, and where it lies in its piece.
#[derive(Clone, Copy)]
struct Slot {
    seq: u64,
    start: u32,
    len: u32,
}

/// One topic's history: frames in sequence order, plus the highest sequence ever trimmed
/// away, which tells a resume that lost events apart from one that lost nothing.
pub(crate) struct History {
    slots: VecDeque<Slot>,
    /// The frozen pieces, oldest first: the first holds the oldest slot.
    pieces: VecDeque<Bytes>,
    /// The length of every piece together.
    piece_bytes: usize,
    /// The rest of the chunk being written: the frames not yet cut into a piece, then
    /// room for more.
    filling: BytesMut,
    /// When each slot was added, only with an age bound (reading the clock is not free),
    /// and apart from `slots` so that without one a slot costs no room for it.
    added: VecDeque<Instant>,
    bytes: usize,
    trimmed_upto: u64,
    /// The newest position that was published but not kept, being larger than the byte
    /// bound on its own (0 if none): a resume from before it cannot be exact.
    skipped: u64,
    /// How many frames the current chunk was made for.
    chunk_frames: usize,
    /// How many pieces were dropped from the front so far: a piece's index plus this is
    /// its number, which stays the same while it is kept (see [`Cursor`]).
    dropped_pieces: u64,
}

/// Where a reader is in a range of a history's frames, for reading it a few frames at a
/// time (a subscriber's replay): the frames after `after`, up to `upto`.
///
/// Every frame of the range was cut into a piece when the cursor was made, and pieces are
/// never joined, so the piece that holds the next frame is known by its number as long as
/// that frame is kept; reading checks first that nothing after `after` was trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The last position read (or where the range starts).
    after: u64,
    /// The newest position of the range.
    upto: u64,
    /// The number of the piece holding the next frame.
    piece: u64,
}

/// Some frames of a cursor's range were trimmed before they were read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Lost;

impl History {
    /// An empty history. `trimmed_upto` is where it starts knowing about events: a
    /// position older than it may have missed something.
    pub(crate) fn new(trimmed_upto: u64) -> Self {
        Self {
            slots: VecDeque::new(),
            pieces: VecDeque::new(),
            piece_bytes: 0,
            filling: BytesMut::new(),
            added: VecDeque::new(),
            bytes: 0,
            trimmed_upto,
            skipped: 0,
            chunk_frames: 0,
            dropped_pieces: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The highest sequence trimmed away (0 if none).
    #[cfg(test)]
    fn trimmed_upto(&self) -> u64 {
        self.trimmed_upto
    }

    /// The newest position this history cannot replay (trimmed away, or never kept): a
    /// resume from before it lost events, a resume from it or after is exact.
    pub(crate) fn lost_upto(&self) -> u64 {
        self.trimmed_upto.max(self.skipped)
    }

    /// Appends a copy of a frame (sequences only grow; frames are never empty) and trims
    /// to the bounds.
    ///
    /// A frame larger than the byte bound is not kept, and the events before it stay: only
    /// a resume that would need it has lost something (`lost_upto`).
    pub(crate) fn push(&mut self, seq: u64, frame: &[u8], bounds: &Bounds) {
        debug_assert!(!frame.is_empty());
        if bounds.events == 0 {
            return self.clear(seq);
        }
        let len = match u32::try_from(frame.len()) {
            Ok(len) if frame.len() <= bounds.bytes => len,
            _ => {
                self.skipped = seq;
                return self.trim(bounds);
            }
        };
        if self.filling.capacity() - self.filling.len() < frame.len() {
            self.new_chunk(frame.len());
        }
        let start = self.filling.len() as u32;
        self.filling.extend_from_slice(frame);
        self.slots.push_back(Slot { seq, start, len });
        if bounds.age.is_some() {
            self.added.push_back(Instant::now());
        }
        self.bytes += frame.len();
        self.trim(bounds);
    }

    /// Makes the current chunk a piece and starts one with room for `need` bytes and as
    /// many more frames of that size as suits the history.
    fn new_chunk(&mut self, need: usize) {
        if !self.filling.is_empty() {
            // Full (or nearly): it becomes its piece with no allocation when no read cut it.
            let piece = std::mem::take(&mut self.filling).freeze();
            self.piece_bytes += piece.len();
            self.pieces.push_back(piece);
        }
        let frames = (self.slots.len() / CHUNK_SHARE)
            .min(self.chunk_frames * 2)
            .clamp(1, (CHUNK / need).max(1));
        self.chunk_frames = frames;
        self.filling = BytesMut::with_capacity(need * frames);
    }

    /// Cuts the frames written into the current chunk so far into a piece; the rest of the
    /// chunk goes on taking frames.
    fn cut(&mut self) {
        if !self.filling.is_empty() {
            let piece = self.filling.split().freeze();
            self.piece_bytes += piece.len();
            self.pieces.push_back(piece);
        }
    }

    /// The memory it holds: its chunks (each with the allocator's overhead), its slots
    /// and its rings.
    pub(crate) fn footprint(&self) -> usize {
        use super::budget::slots;
        let chunks = self.piece_bytes + self.filling.capacity();
        let allocations = self.pieces.len() + usize::from(self.filling.capacity() > 0);
        chunks
            + allocations * 16
            + slots::<Slot>(self.slots.capacity())
            + slots::<Bytes>(self.pieces.capacity())
            + slots::<Instant>(self.added.capacity())
    }

    /// Forgets every frame, as if trimmed, and gives the memory back.
    pub(crate) fn evict(&mut self) {
        if let Some(newest) = self.slots.back() {
            self.clear(newest.seq);
        }
    }

    /// Forgets every frame, the newest trimmed one being `upto`, and gives the memory back.
    fn clear(&mut self, upto: u64) {
        *self = Self::new(upto.max(self.skipped));
    }

    /// Drops the oldest entries until the history fits its bounds.
    pub(crate) fn trim(&mut self, bounds: &Bounds) {
        let expired = bounds.age.and_then(|age| Instant::now().checked_sub(age));
        while let Some(oldest) = self.slots.front() {
            // `added` runs alongside `slots` when there is an age bound (the bounds of a
            // hub never change).
            let too_old =
                matches!((expired, self.added.front()), (Some(limit), Some(at)) if *at <= limit);
            if self.slots.len() <= bounds.events && self.bytes <= bounds.bytes && !too_old {
                break;
            }
            self.trimmed_upto = oldest.seq;
            self.bytes -= oldest.len as usize;
            self.slots.pop_front();
            self.added.pop_front();
            match self.slots.front() {
                None => return self.clear(self.trimmed_upto),
                // The next frame starts a piece: the dropped one ended the oldest piece
                // (a frame is only followed by one at offset 0 once its own frames were
                // cut or sealed into a piece), which has no frame left.
                Some(next) if next.start == 0 => {
                    if let Some(piece) = self.pieces.pop_front() {
                        self.piece_bytes -= piece.len();
                        self.dropped_pieces += 1;
                    }
                }
                Some(_) => {}
            }
        }
        // A burst can leave a large ring behind; give the memory back once it is mostly empty.
        if self.slots.capacity() > 64 && self.slots.len() < self.slots.capacity() / 4 {
            self.slots.shrink_to(self.slots.len() * 2);
            self.added.shrink_to(self.slots.len() * 2);
        }
    }

    /// Every retained event after `after`, oldest first.
    #[cfg(test)]
    pub(crate) fn after(&mut self, after: u64) -> impl Iterator<Item = (u64, Bytes)> + '_ {
        let start = self.slots.partition_point(|s| s.seq <= after);
        self.read(start)
    }

    /// The last `n` retained events, oldest first.
    pub(crate) fn last(&mut self, n: usize) -> impl Iterator<Item = (u64, Bytes)> + '_ {
        let start = self.slots.len().saturating_sub(n);
        self.read(start)
    }

    /// A cursor over the retained events after `after` up to `upto`, or `None` if there
    /// is none. It holds nothing of the history: the frames are read with
    /// [`read_at`](Self::read_at).
    pub(crate) fn cursor(&mut self, after: u64, upto: u64) -> Option<Cursor> {
        let index = self.slots.partition_point(|s| s.seq <= after);
        if self.slots.get(index)?.seq > upto {
            return None;
        }
        self.cut();
        let piece = self.piece_of(index);
        Some(Cursor {
            // Nothing at or before what was trimmed is kept: from there, a later trim
            // tells that the range lost frames.
            after: after.max(self.trimmed_upto),
            upto,
            piece: self.dropped_pieces + piece as u64,
        })
    }

    /// Reads at most `max` frames at `cursor` into `out`, oldest first, and moves the
    /// cursor past them. `Ok(true)` if frames of its range remain, `Ok(false)` once it is
    /// read to its end; `Err(Lost)` (and nothing read) if frames of the range that were not
    /// read yet were trimmed.
    pub(crate) fn read_at(
        &self,
        cursor: &mut Cursor,
        max: usize,
        mut out: impl FnMut(u64, Bytes),
    ) -> Result<bool, Lost> {
        if self.trimmed_upto > cursor.after {
            return Err(Lost);
        }
        let index = self.slots.partition_point(|s| s.seq <= cursor.after);
        let Some(piece) = cursor.piece.checked_sub(self.dropped_pieces) else {
            return Err(Lost);
        };
        let mut piece = piece as usize;
        let mut slots = self.slots.range(index..).peekable();
        let mut read = 0;
        while let Some(slot) = slots.next_if(|s| s.seq <= cursor.upto) {
            if read > 0 && slot.start == 0 {
                piece += 1;
            }
            let at = slot.start as usize;
            let Some(frames) = self.pieces.get(piece) else {
                debug_assert!(false, "a cursor's frame has no piece");
                return Err(Lost);
            };
            out(slot.seq, frames.slice(at..at + slot.len as usize));
            cursor.after = slot.seq;
            read += 1;
            if read == max {
                break;
            }
        }
        match slots.peek() {
            Some(next) if next.seq <= cursor.upto => {
                if next.start == 0 && read > 0 {
                    piece += 1;
                }
                cursor.piece = self.dropped_pieces + piece as u64;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The index in `pieces` of the piece that holds the `index`th retained frame (every
    /// frame from it on having been cut into a piece).
    fn piece_of(&self, index: usize) -> usize {
        // The newest piece holds the newest frame; each frame at offset 0 after the
        // `index`th starts a later piece.
        let later = self
            .slots
            .range(index..)
            .skip(1)
            .filter(|s| s.start == 0)
            .count();
        self.pieces.len().saturating_sub(later + 1)
    }

    /// The retained frames from the `index`th on, each a slice of its piece.
    fn read(&mut self, index: usize) -> impl Iterator<Item = (u64, Bytes)> + '_ {
        let index = index.min(self.slots.len());
        // The range runs to the newest frame: cut, so that every frame in it has a piece.
        if index < self.slots.len() {
            self.cut();
        }
        let mut piece = self.piece_of(index);
        let pieces = &self.pieces;
        self.slots.range(index..).enumerate().map(move |(i, slot)| {
            if i > 0 && slot.start == 0 {
                piece += 1;
            }
            let at = slot.start as usize;
            (slot.seq, pieces[piece].slice(at..at + slot.len as usize))
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn bounds(events: usize, bytes: usize) -> Bounds {
        Bounds {
            events,
            bytes,
            age: None,
        }
    }

    #[test]
    fn trims_by_count_and_bytes_and_remembers_what_it_dropped() {
        let mut h = History::new(0);
        let b = bounds(3, 100);
        for seq in 1..=5 {
            h.push(seq, b"0123456789", &b);
        }
        assert_eq!(h.after(0).map(|e| e.0).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(h.trimmed_upto(), 2);
        assert_eq!(h.after(3).map(|e| e.0).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(h.last(2).map(|e| e.0).collect::<Vec<_>>(), [4, 5]);

        let b = bounds(10, 25);
        h.push(9, b"0123456789", &b);
        assert_eq!(h.after(0).map(|e| e.0).collect::<Vec<_>>(), [5, 9]);
        assert_eq!(h.trimmed_upto(), 4);

        // A frame larger than the byte bound is not kept; the others stay, and a resume
        // that would need it knows.
        h.push(10, &[b'x'; 30], &b);
        assert_eq!(h.after(0).map(|e| e.0).collect::<Vec<_>>(), [5, 9]);
        assert_eq!((h.trimmed_upto(), h.lost_upto()), (4, 10));
        h.push(11, b"0123456789", &b);
        assert_eq!(h.after(10).map(|e| e.0).collect::<Vec<_>>(), [11]);
        assert_eq!(h.lost_upto(), 10);

        // History off: nothing is kept.
        h.push(12, b"0123456789", &bounds(0, 100));
        assert!(h.is_empty());
        assert_eq!(h.lost_upto(), 12);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(usize),
        After(u64),
        Last(usize),
        /// A cursor after this position, up to the newest.
        Open(u64),
        /// Up to this many frames through the open cursor.
        Read(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (1usize..700).prop_map(Op::Push),
            2 => (0u64..400).prop_map(Op::After),
            1 => (0usize..40).prop_map(Op::Last),
            1 => (0u64..400).prop_map(Op::Open),
            3 => (1usize..8).prop_map(Op::Read),
        ]
    }

    /// Retained frames as a plain list.
    type Model = VecDeque<(u64, Vec<u8>)>;

    proptest! {
        /// Frames packed into chunks read back exactly as pushed, whatever the sizes and
        /// however reads and pushes interleave, and trimming keeps what a plain list
        /// would keep.
        #[test]
        fn reads_back_what_a_plain_list_keeps(
            events in 1usize..30,
            bytes in 100usize..4000,
            ops in proptest::collection::vec(op(), 1..300),
        ) {
            let b = bounds(events, bytes);
            let mut h = History::new(0);
            let mut model = Model::new();
            let mut held = 0;
            let mut trimmed = 0;
            let mut skipped = 0;
            let mut seq = 0;
            // The open cursor, and what it has left to read.
            let mut cursor: Option<(Cursor, Model)> = None;
            for op in ops {
                match op {
                    Op::Push(len) => {
                        seq += 1 + len as u64 % 3;
                        let frame: Vec<u8> = (0..len).map(|i| (seq as usize + i) as u8).collect();
                        h.push(seq, &frame, &b);
                        if len > bytes {
                            // Not kept; the others stay.
                            skipped = seq;
                        } else {
                            held += len;
                            model.push_back((seq, frame));
                            while model.len() > events || held > bytes {
                                let (s, f) = model.pop_front().unwrap();
                                held -= f.len();
                                trimmed = s;
                            }
                        }
                    }
                    Op::After(after) => {
                        let got: Vec<_> = h.after(after).map(|(s, f)| (s, f.to_vec())).collect();
                        let want: Vec<_> = model.iter().filter(|e| e.0 > after).cloned().collect();
                        prop_assert_eq!(got, want);
                    }
                    Op::Last(n) => {
                        let got: Vec<_> = h.last(n).map(|(s, f)| (s, f.to_vec())).collect();
                        let skip = model.len().saturating_sub(n);
                        let want: Vec<_> = model.iter().skip(skip).cloned().collect();
                        prop_assert_eq!(got, want);
                    }
                    Op::Open(after) => {
                        let want: VecDeque<_> =
                            model.iter().filter(|e| e.0 > after).cloned().collect();
                        let c = h.cursor(after, seq);
                        prop_assert_eq!(c.is_some(), !want.is_empty());
                        cursor = c.map(|c| (c, want));
                    }
                    Op::Read(max) => {
                        let Some((c, want)) = &mut cursor else { continue };
                        let mut got = Vec::new();
                        let more = h.read_at(c, max, |s, f| got.push((s, f.to_vec())));
                        // Lost exactly when the next frame it had to read was trimmed.
                        let next = want.front().map(|e| e.0);
                        if next.is_some_and(|n| !model.iter().any(|e| e.0 == n)) {
                            prop_assert_eq!(more, Err(Lost));
                            prop_assert!(got.is_empty());
                            cursor = None;
                            continue;
                        }
                        let take = max.min(want.len());
                        let expect: Vec<_> = want.drain(..take).collect();
                        prop_assert_eq!(got, expect);
                        prop_assert_eq!(more, Ok(!want.is_empty()));
                        if want.is_empty() {
                            cursor = None;
                        }
                    }
                }
                prop_assert_eq!(h.lost_upto(), trimmed.max(skipped));
                if !model.is_empty() {
                    prop_assert_eq!(h.trimmed_upto(), trimmed);
                }
                prop_assert_eq!(h.is_empty(), model.is_empty());
                prop_assert_eq!(h.bytes, held);
                // Pieces with no retained frame left are dropped.
                prop_assert!(h.pieces.len() <= h.slots.len());
            }
        }
    }

    #[test]
    fn frames_share_their_chunk() {
        let b = bounds(1000, 100_000);
        let mut h = History::new(0);
        for seq in 1..=200 {
            h.push(seq, b"0123456789", &b);
        }
        let frames: Vec<Bytes> = h.after(0).map(|e| e.1).collect();
        // Replay hands out slices of a few chunks, not a copy or an allocation per frame.
        let chunks = 1 + frames
            .windows(2)
            .filter(|f| f[0].as_ptr().wrapping_add(10) != f[1].as_ptr())
            .count();
        assert_eq!(chunks, h.pieces.len());
        assert!(chunks * 3 <= frames.len(), "{chunks} chunks for 200 frames");
        // A read cuts the chunk; the next frame still goes into the rest of it.
        while h.filling.capacity() == 0 {
            h.push(h.slots.back().unwrap().seq + 1, b"0123456789", &b);
        }
        let seq = h.slots.back().unwrap().seq;
        let before = h.after(seq - 1).next().unwrap().1.as_ptr();
        h.push(seq + 1, b"0123456789", &b);
        let next = h.after(seq).next().unwrap().1;
        assert_eq!(before.wrapping_add(10), next.as_ptr());
    }

    #[test]
    fn an_emptied_history_holds_no_chunk() {
        let b = bounds(2, 100);
        let mut h = History::new(0);
        h.push(1, b"0123456789", &b);
        let _ = h.after(0).count();
        h.push(2, b"0123456789", &bounds(0, 100));
        assert!(h.is_empty());
        assert_eq!(h.trimmed_upto(), 2);
        assert_eq!(h.filling.capacity(), 0);
        assert!(h.pieces.is_empty() && h.slots.capacity() == 0);
        assert!(h.pieces.capacity() == 0);
    }

    #[test]
    fn trims_by_age() {
        let b = Bounds {
            events: 10,
            bytes: 1000,
            age: Some(Duration::from_millis(20)),
        };
        let mut h = History::new(0);
        h.push(1, b"a", &b);
        std::thread::sleep(Duration::from_millis(30));
        h.push(2, b"b", &b);
        assert_eq!(h.after(0).map(|e| e.0).collect::<Vec<_>>(), [2]);
        std::thread::sleep(Duration::from_millis(30));
        h.trim(&b);
        assert!(h.is_empty());
        assert_eq!(h.trimmed_upto(), 2);
    }
}
