//! The reconciler cut into pieces for an organisation: one piece per account and Region that
//! holds a route's source vault or a never_expire vault. A coordinator (the schedule's
//! invocation) sends out the outbox's alerts, watches that every piece finishes clean passes
//! (one "behind" incident for them all, never one per piece), and lists the pieces; each piece is
//! its own invocation (an SQS message), with its own cursor, its own deadline, and its own
//! incidents, so one failing piece never holds the others.

use super::*;
use relay_core::arn::Location;
use relay_core::ports::Clock;

/// Which part of the policy a run walks: all of it, or one account and Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    /// `None`: the whole policy (a single-account deployment's one run).
    pub location: Option<Location>,
}

impl Piece {
    pub fn whole() -> Self {
        Self { location: None }
    }

    pub fn at(location: Location) -> Self {
        Self {
            location: Some(location),
        }
    }

    /// Its cursor's key in the ledger: `ACCOUNT/REGION`, or "" for the whole policy.
    pub fn key(&self) -> String {
        self.location
            .as_ref()
            .map(|l| format!("{}/{}", l.account, l.region))
            .unwrap_or_default()
    }

    /// Is `vault` walked by this piece?
    pub fn holds(&self, vault: &VaultArn) -> bool {
        self.location.as_ref().is_none_or(|l| {
            l.account == vault.account && l.region == vault.region && l.partition == vault.partition
        })
    }
}

/// Every account and Region with something to walk, in order.
pub fn pieces(policy: &Policy) -> Vec<Piece> {
    let sources: HashSet<&str> = policy.routes.iter().map(|r| r.from.as_str()).collect();
    let mut out: BTreeSet<Location> = policy
        .vaults
        .iter()
        .filter(|v| sources.contains(v.alias.as_str()))
        .map(|v| v.arn.location())
        .collect();
    out.extend(
        policy
            .vaults
            .iter()
            .filter(|v| is_never_expire(v))
            .map(|v| v.arn.location()),
    );
    out.into_iter().map(Piece::at).collect()
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
    let pieces = pieces(policy);
    let now = ports.now();
    let mut oldest: Option<DateTime<Utc>> = None;
    let mut behind_count = 0;
    for piece in &pieces {
        let saved = ports.ledger().load_cursor(&piece.key()).await?;
        // A piece that never ran has its watch start now.
        let clean_at = saved
            .as_deref()
            .and_then(|c| serde_json::from_str::<Cursor>(c).ok())
            .and_then(|c| c.clean_at)
            .unwrap_or(now);
        behind_count += u64::from(now - clean_at > config.behind_after);
        oldest = Some(oldest.map_or(clean_at, |o| o.min(clean_at)));
    }
    report.watch.clean_at = oldest;
    report.pass_clean = behind_count == 0;
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
    // The "behind" incident is the coordinator's to close, over every piece.
    let own: Vec<Incident> = open
        .into_iter()
        .filter(|i| i.id != BEHIND_INCIDENT)
        .collect();
    close_resolved(ports, &own, &mut report).await;
    Ok(report)
}
