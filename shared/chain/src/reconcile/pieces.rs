//! The reconciler cut into pieces for an organisation: one piece per account and Region that
//! holds a route's source vault or a never_expire vault. A coordinator (the schedule's
//! invocation) sends out the outbox's alerts, watches that every piece finishes clean passes
//! (one "behind" incident for them all, never one per piece), and lists the pieces; each piece is
//! its own invocation (an SQS message), with its own cursor, its own deadline, and its own
//! incidents, so one failing piece never holds the others.

use super::*;
use relay_core::arn::Location;
use relay_core::ports::Clock;

/// Which part of the policy a run walks: all of it, or one account and Region (or one slice of
/// its tables, where the account and Region gathers the copies of many).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    /// `None`: the whole policy (a single-account deployment's one run).
    pub location: Option<Location>,
    /// `None`: every table's points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice: Option<Slice>,
}

/// Slice `index` of `of`: the points of the tables whose ARN hashes to `index`. Every hop is of
/// one table, so each is walked by exactly one slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    pub index: u32,
    pub of: u32,
}

impl Slice {
    /// Does this slice walk the points of `resource_arn`? By a hash every process agrees on.
    pub fn takes(&self, resource_arn: &str) -> bool {
        let hash = relay_core::stable_hash::fnv1a(resource_arn);
        hash % u64::from(self.of.max(1)) == u64::from(self.index)
    }
}

/// Root vaults upstream of one slice: a piece whose source vaults gather the copies of more
/// member vaults than this is cut into slices that run at once.
pub const SOURCES_PER_SLICE: usize = 250;
/// At most this many slices of one account and Region.
pub const MAX_SLICES: u32 = 16;

impl Piece {
    pub fn whole() -> Self {
        Self {
            location: None,
            slice: None,
        }
    }

    pub fn at(location: Location) -> Self {
        Self {
            location: Some(location),
            slice: None,
        }
    }

    /// Its cursor's key in the ledger: `ACCOUNT/REGION`, `ACCOUNT/REGION#I/N` for a slice, or ""
    /// for the whole policy.
    pub fn key(&self) -> String {
        let at = self
            .location
            .as_ref()
            .map(|l| format!("{}/{}", l.account, l.region))
            .unwrap_or_default();
        match self.slice {
            Some(s) => format!("{at}#{}/{}", s.index, s.of),
            None => at,
        }
    }

    /// Is `vault` walked by this piece?
    pub fn holds(&self, vault: &VaultArn) -> bool {
        self.location.as_ref().is_none_or(|l| {
            l.account == vault.account && l.region == vault.region && l.partition == vault.partition
        })
    }

    /// Are the points of `resource_arn` this piece's?
    pub fn takes(&self, resource_arn: &str) -> bool {
        self.slice.is_none_or(|s| s.takes(resource_arn))
    }

    /// The first slice (or an unsliced piece) also guards the never_expire vaults: once.
    pub fn guards(&self) -> bool {
        self.slice.is_none_or(|s| s.index == 0)
    }
}

/// Every account and Region with something to walk, in order; one that gathers the copies of
/// more than `sources_per_slice` member vaults (a central vault of the organisation, and the
/// vaults after it) as slices, so its walk is shared by several invocations at once.
pub fn pieces(policy: &Policy, sources_per_slice: usize) -> Vec<Piece> {
    let sources: HashSet<&str> = policy.routes.iter().map(|r| r.from.as_str()).collect();
    let mut out: BTreeMap<Location, usize> = BTreeMap::new();
    let upstream = Upstream::of(policy);
    for v in policy
        .vaults
        .iter()
        .filter(|v| sources.contains(v.alias.as_str()))
    {
        let roots = upstream.roots(&v.alias);
        let at = out.entry(v.arn.location()).or_default();
        *at = (*at).max(roots);
    }
    for v in policy.vaults.iter().filter(|v| is_never_expire(v)) {
        out.entry(v.arn.location()).or_default();
    }
    out.into_iter()
        .flat_map(|(location, roots)| {
            let of = u32::try_from(roots.div_ceil(sources_per_slice.max(1)))
                .unwrap_or(MAX_SLICES)
                .clamp(1, MAX_SLICES);
            (0..of).map(move |index| Piece {
                location: Some(location.clone()),
                slice: (of > 1).then_some(Slice { index, of }),
            })
        })
        .collect()
}

/// The routes backwards: which vaults copy into each.
struct Upstream<'p> {
    into: HashMap<&'p str, Vec<&'p str>>,
}

impl<'p> Upstream<'p> {
    fn of(policy: &'p Policy) -> Self {
        let mut into: HashMap<&str, Vec<&str>> = HashMap::new();
        for r in &policy.routes {
            into.entry(r.to.as_str()).or_default().push(r.from.as_str());
        }
        Self { into }
    }

    /// The vaults no route copies into that `alias`'s copies come from (itself, if it is one),
    /// whatever the graph's shape (cycles are walked once).
    fn roots(&self, alias: &'p str) -> usize {
        let mut seen: HashSet<&str> = HashSet::from([alias]);
        let mut next = vec![alias];
        let mut roots = 0;
        while let Some(v) = next.pop() {
            match self.into.get(v) {
                None => roots += 1,
                Some(from) => {
                    for f in from {
                        if seen.insert(f) {
                            next.push(f);
                        }
                    }
                }
            }
        }
        roots.max(1)
    }
}

/// What a coordinator run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coordination {
    pub pieces: Vec<Piece>,
    pub alerts_sent: u64,
    /// Pieces that have not finished a clean pass for longer than `behind_after`.
    pub pieces_behind: u64,
    pub errors: Vec<String>,
}

/// The coordinator's run: the outbox, the pieces' watch (their cursors' last clean pass), and
/// the list of pieces to send out.
pub async fn coordinate<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    config: &ReconcileConfig,
) -> Result<Coordination, PortError> {
    let ports = &Patient::new(ports, config.patience);
    let mut report = ReconcileReport::default();
    let open = match incident::drain(ports).await {
        Ok((sent, open, failed)) => {
            report.alerts_sent += sent;
            report
                .errors
                .extend(failed.iter().map(|e| format!("outbox: {e}")));
            open
        }
        Err(e) => {
            report.errors.push(format!("outbox: {e}"));
            Vec::new()
        }
    };
    let pieces = pieces(policy, config.sources_per_slice);
    let now = ports.now();
    let mut oldest: Option<DateTime<Utc>> = None;
    let mut behind_count = 0;
    let mut cursors: HashMap<String, Cursor> = HashMap::new();
    for piece in &pieces {
        let saved = ports.ledger().load_cursor(&piece.key()).await?;
        let cursor = saved
            .as_deref()
            .and_then(|c| serde_json::from_str::<Cursor>(c).ok());
        // A piece that never ran has its watch start now.
        let clean_at = cursor.as_ref().and_then(|c| c.clean_at).unwrap_or(now);
        if let Some(cursor) = cursor {
            cursors.insert(piece.key(), cursor);
        }
        behind_count += u64::from(now - clean_at > config.behind_after);
        oldest = Some(oldest.map_or(clean_at, |o| o.min(clean_at)));
    }
    report.watch.clean_at = oldest;
    report.pass_clean = behind_count == 0;
    close_sliced_routes(ports, policy, &open, &pieces, &cursors, &mut report).await;
    behind(ports, config, &mut report).await;
    if report.pass_clean {
        let behind: Vec<Incident> = open
            .into_iter()
            .filter(|i| i.id == BEHIND_INCIDENT)
            .collect();
        close_resolved(ports, &behind, &mut report).await;
    }
    Ok(Coordination {
        pieces,
        alerts_sent: report.alerts_sent,
        pieces_behind: behind_count,
        errors: report.errors,
    })
}

/// The route incidents (`queued#`, `window#`) of a source walked in slices: no slice sees the
/// whole route, so none closes them; closed here once every slice has finished a whole pass
/// since the incident opened and none of those passes found cause for it.
async fn close_sliced_routes<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    open: &[Incident],
    pieces: &[Piece],
    cursors: &HashMap<String, Cursor>,
    report: &mut ReconcileReport,
) {
    for incident in open {
        let Some((_, route)) = route_incident(&incident.id) else {
            continue;
        };
        let from = policy
            .routes
            .iter()
            .find(|r| r.name() == route)
            .and_then(|r| policy.vault(&r.from));
        let Some(from) = from else {
            continue;
        };
        let mut slices = pieces
            .iter()
            .filter(|p| p.slice.is_some() && p.holds(&from.arn))
            .peekable();
        if slices.peek().is_none() {
            continue;
        }
        let resolved = slices.all(|p| {
            cursors.get(&p.key()).is_some_and(|c| {
                c.passed_at.is_some_and(|t| t > incident.opened_at)
                    && !c.last_seen.contains(&incident.id)
                    && !c.seen.contains(&incident.id)
            })
        });
        if resolved {
            if let Err(e) = ports.ledger().close_incident(&incident.id).await {
                report.errors.push(format!("closing {}: {e}", incident.id));
            }
        }
    }
}

/// `queued#ROUTE` or `window#ROUTE`: the kind and the route.
pub(super) fn route_incident(id: &str) -> Option<(&str, &str)> {
    id.split_once('#')
        .filter(|(kind, _)| matches!(*kind, "queued" | "window"))
}

/// One piece's run, within `budget`: its phases from its own cursor on; its phases' and
/// accounts' incidents raised and closed as a whole run does. The outbox and the "behind" watch
/// are the coordinator's.
pub async fn run_piece<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    piece: &Piece,
    config: &ReconcileConfig,
    budget: RunBudget,
    holder: &str,
) -> Result<ReconcileReport, PortError> {
    let patience = Patience {
        deadline: budget.deadline,
        ..config.patience
    };
    if piece.slice.is_some_and(|s| s.of == 0 || s.index >= s.of) {
        // Only our coordinator writes pieces; a slice of nothing (or of everything) is refused
        // rather than walked (its message goes to the dead-letter queue, one alarm).
        return Err(PortError::new(
            ErrorKind::Permanent,
            "piece",
            None,
            format!("{} is not a slice", piece.key()),
        ));
    }
    let ports = &Patient::new(ports, patience);
    let (key, now) = (piece.key(), ports.now());
    let until = now + LEASE;
    if !ports.ledger().take_lease(&key, holder, until, now).await? {
        return Ok(ReconcileReport {
            piece: key,
            leased_elsewhere: true,
            ..ReconcileReport::default()
        });
    }
    let run = walk_piece(ports, policy, piece, config, budget).await;
    // Let go whatever happened: a retry of this message may take the piece at once. A lease
    // that cannot be let go ends by itself.
    if let Err(e) = ports.ledger().release_lease(&key, holder).await {
        tracing::warn!(piece = %key, error = %e, "lease not released; it ends by itself");
    }
    run
}

/// How long a piece's lease lasts: the reconciler's timeout (no holder runs longer).
pub(super) const LEASE: Duration = Duration::minutes(15);

async fn walk_piece<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    piece: &Piece,
    config: &ReconcileConfig,
    budget: RunBudget,
) -> Result<ReconcileReport, PortError> {
    let mut report = ReconcileReport::default();
    let open = ports.ledger().open_incidents().await.unwrap_or_else(|e| {
        report.errors.push(format!("open incidents: {e}"));
        Vec::new()
    });
    report.stuck_tables = stuck_tables(&open);
    report.queued_routes = open_routes(&open, QUEUED_PREFIX);
    report.window_routes = open_routes(&open, WINDOW_PREFIX);
    report.alerted_hops = open.iter().map(|i| i.id.clone()).collect();
    walk(ports, policy, piece, config, budget, &mut report).await?;
    // The "behind" incident is the coordinator's to close, over every piece; so are a sliced
    // source's route incidents, over every slice.
    let own: Vec<Incident> = open
        .into_iter()
        .filter(|i| i.id != BEHIND_INCIDENT)
        .filter(|i| piece.slice.is_none() || route_incident(&i.id).is_none())
        .collect();
    close_resolved(ports, &own, &mut report).await;
    Ok(report)
}
