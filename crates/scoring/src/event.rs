//! What moves a score, by how much, and why.
//!
//! Points are on Lighthouse's scale (`beacon_node/lighthouse_network/src/
//! peer_manager/peerdb/score.rs`): a score lives in
//! [`MIN_SCORE`](crate::MIN_SCORE)`..=`[`MAX_SCORE`](crate::MAX_SCORE),
//! starts at 0, and Lighthouse's tolerance classes set the sizes — fatal
//! −100, low tolerance −10, mid −5, high −1. Like reth's `ReputationChange`
//! constants (`crates/net/network-types/src/peers/reputation.rs`), every
//! change is a named constant here.
//!
//! Each event belongs to a [`Class`]: *malice* events are things an honest
//! implementation does not do (they can lead to a ban), *staleness* events
//! are what a slow, lossy or out-of-date honest node does too (they lower a
//! score but never below [`STALENESS_FLOOR`](crate::STALENESS_FLOOR), above
//! the ban threshold: a flaky node is never banned for being flaky), and
//! *credit* events earn points back, slowly.

use serde::{Deserialize, Serialize};

/// How clearly an event shows malice rather than staleness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// An honest implementation does not do this: may lead to a ban.
    Malice,
    /// Honest but slow, lossy or out-of-date nodes do this too: floored at
    /// [`STALENESS_FLOOR`](crate::STALENESS_FLOOR).
    Staleness,
    /// Good behaviour: earns points up to [`MAX_SCORE`](crate::MAX_SCORE).
    Credit,
}

/// NODES answer with records outside the requested log-distances. The
/// discv5 spec (`discv5-theory.md`, "Lookup") tells the requester to check
/// them; the distance follows from the node IDs, so no honest implementation
/// gets it wrong, and sigp's `discv5` bans the sender for an hour on the
/// spot. Two such answers reach the ban threshold.
pub const WRONG_DISTANCE: i32 = -30;
/// NODES answer with more records than the requester allows (16, discv5's
/// `max_nodes_response`, the k of the spec): padding an answer is malice.
pub const TOO_MANY_RECORDS: i32 = -30;
/// NODES answer naming one node twice: an honest table holds a node once.
/// Lighthouse's low-tolerance size.
pub const DUPLICATE_RECORDS: i32 = -10;
/// NODES answer crowded into one network group (see
/// [`crate::answer::AnswerRules`]): what a poisoner pointing at its own
/// Sybils looks like — but also what an honest node without IP limits in a
/// crowded network returns. Not proof, so staleness class and mid tolerance
/// (−5): two such answers stop the sender being served, four take it out of
/// the view; alone they never ban.
pub const CROWDED_ANSWER: i32 = -5;
/// discv5's packet filter banned the node for exceeding its request rate
/// (8 per second per node ID by default), as reported by the service. The
/// report names the node by an abbreviated ID (see the service), so one
/// report alone does not ban: it takes the node out of the view (−30), a
/// second within the half-life bans it.
pub const PACKET_FILTER_BAN: i32 = -30;
/// The records a node returned lately come from far fewer network groups
/// than the records the network returns (the birthday test of
/// [`crate::spread`], 7σ): "mostly from one group". What a poisoner whose
/// Sybils sit in a few ASes looks like in every answer, even when no single
/// answer is crowded. Far stronger evidence than one crowded answer (20–32
/// records; 0.007% of honest windows flagged), so the size of Lighthouse's
/// disconnect threshold (`MIN_SCORE_BEFORE_DISCONNECT`, −20): one such
/// answer takes a neutral node out of the view and two take out one that
/// banked the most credit (+20) by answering pings — which a poisoner does
/// diligently. Still not proof — an honest node whose table is crowded
/// answers the same way — so staleness class: it never bans.
pub const CLUSTERED_ANSWERS: i32 = -20;
/// NODES answer with records that carry no routable address on a public
/// network. Common among honest nodes behind NAT that announce a private
/// address: staleness, Lighthouse's high tolerance ×2.
pub const UNROUTABLE_RECORDS: i32 = -2;
/// NODES answer whose records all carry another network's `eth2` fork
/// digest. The discv5 DHT is shared by all networks, so some foreign records
/// are normal; only an answer made of nothing else costs, and little.
pub const FOREIGN_FORK_RECORDS: i32 = -2;
/// Of the records a node returned that we then PINGed, most did not answer
/// (see [`USEFULNESS_SAMPLE`](crate::USEFULNESS_SAMPLE)): a stale table or
/// fake records. Mid tolerance, staleness class.
pub const MOSTLY_DEAD_ANSWERS: i32 = -5;
/// A request (PING or FINDNODE) timed out after discv5's retry. −2 against
/// the +1 of an answered PING: a node holds its score while it answers at
/// least two requests in three (about 18% packet loss each way with one
/// retry).
pub const REQUEST_TIMEOUT: i32 = -2;
/// The node's ENR sequence number rose more than
/// [`MAX_SEQ_BUMPS_PER_HOUR`](crate::MAX_SEQ_BUMPS_PER_HOUR) times in an
/// hour (each bump beyond costs). Ethereum nodes bump it when their subnet
/// subscriptions change, about daily.
pub const SEQ_CHURN: i32 = -5;
/// The node's IP or UDP port changed more than
/// [`MAX_ADDRESS_CHANGES_PER_HOUR`](crate::MAX_ADDRESS_CHANGES_PER_HOUR)
/// times in an hour: address hopping dodges per-group caps.
pub const ADDRESS_CHURN: i32 = -5;
/// In a lookup of 3 or more disjoint paths, the node's answer led its
/// path only where no other path went, and that path ended with nothing in
/// the closest set the other paths agreed on (`discguard_lookup`'s
/// outvoted paths; S/Kademlia's majority, Baumgart & Mies 2007). What a
/// poisoner and its Sybils do; an honest node ahead of a poisoner on the
/// same path can be caught too, so staleness class and mid tolerance: four
/// such lookups within a half-life take a node out of the view, none bans.
pub const OUTVOTED_ANSWER: i32 = -5;
/// The node answered a PING. Lighthouse's high-tolerance size, as a credit.
pub const PING_ANSWERED: i32 = 1;
/// Of the records a node returned that we then PINGed, most answered.
pub const USEFUL_ANSWERS: i32 = 1;

/// A behaviour that moves a score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// [`WRONG_DISTANCE`].
    WrongDistance,
    /// [`TOO_MANY_RECORDS`].
    TooManyRecords,
    /// [`DUPLICATE_RECORDS`].
    DuplicateRecords,
    /// [`CROWDED_ANSWER`].
    CrowdedAnswer,
    /// [`CLUSTERED_ANSWERS`].
    ClusteredAnswers,
    /// [`PACKET_FILTER_BAN`].
    PacketFilterBan,
    /// [`UNROUTABLE_RECORDS`].
    UnroutableRecords,
    /// [`FOREIGN_FORK_RECORDS`].
    ForeignForkRecords,
    /// [`MOSTLY_DEAD_ANSWERS`].
    MostlyDeadAnswers,
    /// [`REQUEST_TIMEOUT`].
    RequestTimeout,
    /// [`SEQ_CHURN`].
    SeqChurn,
    /// [`ADDRESS_CHURN`].
    AddressChurn,
    /// [`OUTVOTED_ANSWER`].
    OutvotedAnswer,
    /// [`PING_ANSWERED`].
    PingAnswered,
    /// [`USEFUL_ANSWERS`].
    UsefulAnswers,
}

impl Event {
    /// Every event, for metrics labels and documentation.
    pub const ALL: [Self; 15] = [
        Self::WrongDistance,
        Self::TooManyRecords,
        Self::DuplicateRecords,
        Self::CrowdedAnswer,
        Self::ClusteredAnswers,
        Self::PacketFilterBan,
        Self::UnroutableRecords,
        Self::ForeignForkRecords,
        Self::MostlyDeadAnswers,
        Self::RequestTimeout,
        Self::SeqChurn,
        Self::AddressChurn,
        Self::OutvotedAnswer,
        Self::PingAnswered,
        Self::UsefulAnswers,
    ];

    /// Points the event adds (negative: a penalty).
    pub const fn delta(self) -> i32 {
        match self {
            Self::WrongDistance => WRONG_DISTANCE,
            Self::TooManyRecords => TOO_MANY_RECORDS,
            Self::DuplicateRecords => DUPLICATE_RECORDS,
            Self::CrowdedAnswer => CROWDED_ANSWER,
            Self::ClusteredAnswers => CLUSTERED_ANSWERS,
            Self::PacketFilterBan => PACKET_FILTER_BAN,
            Self::UnroutableRecords => UNROUTABLE_RECORDS,
            Self::ForeignForkRecords => FOREIGN_FORK_RECORDS,
            Self::MostlyDeadAnswers => MOSTLY_DEAD_ANSWERS,
            Self::RequestTimeout => REQUEST_TIMEOUT,
            Self::SeqChurn => SEQ_CHURN,
            Self::AddressChurn => ADDRESS_CHURN,
            Self::OutvotedAnswer => OUTVOTED_ANSWER,
            Self::PingAnswered => PING_ANSWERED,
            Self::UsefulAnswers => USEFUL_ANSWERS,
        }
    }

    /// The event's class.
    pub const fn class(self) -> Class {
        match self {
            Self::WrongDistance
            | Self::TooManyRecords
            | Self::DuplicateRecords
            | Self::PacketFilterBan => Class::Malice,
            Self::CrowdedAnswer
            | Self::ClusteredAnswers
            | Self::UnroutableRecords
            | Self::ForeignForkRecords
            | Self::MostlyDeadAnswers
            | Self::RequestTimeout
            | Self::SeqChurn
            | Self::AddressChurn
            | Self::OutvotedAnswer => Class::Staleness,
            Self::PingAnswered | Self::UsefulAnswers => Class::Credit,
        }
    }

    /// Stable snake_case label (metrics, JSON, ban reasons).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WrongDistance => "wrong_distance",
            Self::TooManyRecords => "too_many_records",
            Self::DuplicateRecords => "duplicate_records",
            Self::CrowdedAnswer => "crowded_answer",
            Self::ClusteredAnswers => "clustered_answers",
            Self::PacketFilterBan => "packet_filter_ban",
            Self::UnroutableRecords => "unroutable_records",
            Self::ForeignForkRecords => "foreign_fork_records",
            Self::MostlyDeadAnswers => "mostly_dead_answers",
            Self::RequestTimeout => "request_timeout",
            Self::SeqChurn => "seq_churn",
            Self::AddressChurn => "address_churn",
            Self::OutvotedAnswer => "outvoted_answer",
            Self::PingAnswered => "ping_answered",
            Self::UsefulAnswers => "useful_answers",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_signs() {
        for e in Event::ALL {
            match e.class() {
                Class::Credit => assert!(e.delta() > 0, "{e:?}"),
                Class::Malice | Class::Staleness => assert!(e.delta() < 0, "{e:?}"),
            }
        }
    }

    #[test]
    fn labels_are_distinct_and_serde_uses_them() {
        let labels: std::collections::HashSet<_> = Event::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(labels.len(), Event::ALL.len());
        for e in Event::ALL {
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                format!("\"{}\"", e.as_str())
            );
        }
    }
}
