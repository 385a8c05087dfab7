//! One route's phase: its look-back walked in creation-date windows, what the destination holds
//! indexed first, then every source point examined.

use super::hop::examine;
use super::*;

/// What one route's phase works with.
pub(super) struct RouteCtx<'a, P> {
    pub(super) ports: &'a P,
    pub(super) policy: &'a Policy,
    pub(super) route: &'a Route,
    pub(super) from: &'a Vault,
    pub(super) to: &'a Vault,
    pub(super) config: &'a ReconcileConfig,
    /// The piece walking the route: its slice's tables only.
    pub(super) piece: &'a Piece,
}

impl<'a, P: RouterPorts> RouteCtx<'a, P> {
    pub(super) fn new(
        ports: &'a P,
        policy: &'a Policy,
        route: &'a Route,
        config: &'a ReconcileConfig,
        piece: &'a Piece,
    ) -> Option<Self> {
        Some(Self {
            ports,
            policy,
            route,
            from: policy.vault(&route.from)?,
            to: policy.vault(&route.to)?,
            config,
            piece,
        })
    }

    /// Is this point of the piece's slice (a point of no table is the first slice's)?
    pub(super) fn takes(&self, point: &PointView) -> bool {
        match &point.resource_arn {
            Some(resource) => self.piece.takes(resource),
            None => self.piece.guards(),
        }
    }
}

/// What the destination holds: per resource, the creation dates of its COMPLETED points (the
/// originals') and each copy (the one the tag repair tags, without listing again).
pub(super) type Held = HashMap<String, HashMap<i64, HeldCopy>>;

/// A copy the destination holds.
#[derive(Debug, Clone)]
pub(super) struct HeldCopy {
    pub(super) arn: String,
    /// When it landed: the tag repair looks at copies that landed recently, however long they
    /// waited to start (a copy queued for days behind AWS's quota is as new as any).
    pub(super) completed: Option<DateTime<Utc>>,
}

impl HeldCopy {
    fn of(point: PointView) -> Self {
        Self {
            completed: point.completion_date,
            arn: point.recovery_point_arn,
        }
    }
}

/// One route: the look-back is walked in creation-date windows. For each window, first what the
/// destination holds, then the sources. A window whose destination listing does not fit in a run
/// is halved for the next run; after a sparse window the next one is twice as long.
pub(super) async fn route_phase<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    cursor: Cursor,
    budget: RunBudget,
    report: &mut ReconcileReport,
) -> Result<Progress, PortError> {
    let now = ctx.ports.now();
    let since = now - ctx.config.lookback;
    let whole = ctx.config.lookback.num_minutes() + 60;
    let mut window = Window {
        phase: cursor.phase,
        start: cursor.window_start.filter(|w| *w >= since).unwrap_or(since),
        minutes: cursor
            .window_minutes
            .unwrap_or(whole)
            .clamp(MIN_WINDOW_MINUTES, whole),
        // Only a window that had a whole run to itself and still did not fit is made smaller.
        fresh: report.pages == 0,
    };
    let mut token = cursor.token;
    let observed = destination_lock(ctx, report).await?;
    let mut tags: BTreeMap<String, Tags> = BTreeMap::new();
    // Many routes into one vault (a set's members into a central vault): each route asks the
    // destination only for its own sources' tables, not for the whole vault's window, so a pass
    // grows with the organisation, not with its square.
    let by_resource = ctx
        .policy
        .routes
        .iter()
        .filter(|r| r.to == ctx.route.to)
        .nth(1)
        .is_some();
    while window.start <= now {
        window.fresh = report.pages == 0;
        let index_start = report.pages;
        let held = match by_resource {
            true => Held::new(),
            false => match held_in(ctx, &window, budget, report).await? {
                Ok(held) => held,
                Err((token, minutes)) => return Ok(Progress::Stopped(window.at(token, minutes))),
            },
        };
        let index_pages = report.pages - index_start;
        let mut sources = Sources {
            held,
            observed: &observed,
            by_resource,
            looked: HashSet::new(),
        };
        if let Some(stop) = walk_sources(
            ctx,
            &window,
            token.take(),
            &mut sources,
            &mut tags,
            budget,
            report,
        )
        .await?
        {
            return Ok(Progress::Stopped(stop));
        }
        window.start = window.end();
        // Sparse stretches (a one-page destination listing) grow the next window; dense ones keep it.
        if index_pages <= 1 {
            window.minutes = (window.minutes * 2).min(whole);
        }
        save(ctx.ports, &window.at(None, window.minutes), report).await?;
    }
    Ok(Progress::Done)
}

/// A creation-date window of a route's look-back, and where a stop in it resumes.
pub(super) struct Window {
    pub(super) phase: usize,
    pub(super) start: DateTime<Utc>,
    pub(super) minutes: i64,
    /// This run began on the window: it must read at least a page of it, or shrink it.
    pub(super) fresh: bool,
}

impl Window {
    pub(super) fn end(&self) -> DateTime<Utc> {
        self.start + Duration::minutes(self.minutes)
    }

    /// The cursor that resumes in this window, at `token`, with `minutes` for its length.
    fn at(&self, token: Option<String>, minutes: i64) -> Cursor {
        Cursor {
            phase: self.phase,
            token,
            window_start: Some(self.start),
            window_minutes: Some(minutes),
            ..Cursor::default()
        }
    }

    /// The listing of one page of the window.
    fn query(&self, page_token: Option<String>, page_size: u32) -> ListQuery {
        ListQuery {
            created_after: Some(self.start - EDGE),
            created_before: Some(self.end() + EDGE),
            resource_arn: None,
            page_token,
            page_size,
        }
    }
}

/// What the destination holds in the window, and its lock.
struct Sources<'a> {
    held: Held,
    observed: &'a Observed,
    /// `held` is filled a table at a time, as the sources name them (a fan-in destination).
    by_resource: bool,
    /// Tables whose copies in the destination were looked up already.
    looked: HashSet<String>,
}

impl Sources<'_> {
    /// The destination's COMPLETED copies of the page's tables not looked up yet (ByResourceArn);
    /// `false` when the deadline came first (the page is read again next run).
    async fn look_up<P: RouterPorts>(
        &mut self,
        ctx: &RouteCtx<'_, P>,
        window: &Window,
        points: &[PointView],
        known: Option<&tags::Records>,
        budget: RunBudget,
        report: &mut ReconcileReport,
    ) -> Result<bool, PortError> {
        if !self.by_resource {
            return Ok(true);
        }
        let resources = points
            .iter()
            .filter(|p| ctx.takes(p))
            .filter_map(|p| p.resource_arn.as_ref());
        // Tables the ledger accounted for on this page: judged once per page, asked again on
        // the next (its other points may need the destination).
        let mut spared: HashSet<&str> = HashSet::new();
        for resource in resources {
            if self.looked.contains(resource) || spared.contains(resource.as_str()) {
                continue;
            }
            if let Some(known) = known {
                if !verifies_now(ctx, resource) && self.accounted(ctx, resource, points, known) {
                    spared.insert(resource);
                    report.lookups_spared += 1;
                    continue;
                }
            }
            if budget.past_deadline(ctx.ports.instant()) {
                return Ok(false);
            }
            self.looked.insert(resource.clone());
            let mut token = None;
            loop {
                let query = ListQuery {
                    resource_arn: Some(resource.clone()),
                    ..window.query(token, ctx.config.page_size)
                };
                let p = page(ctx.ports, &ctx.to.arn, query, report).await?;
                for point in p.items.into_iter().filter(is_held) {
                    let at = point.creation_date.timestamp_millis();
                    let copies = self.held.entry(resource.clone()).or_default();
                    copies.insert(at, HeldCopy::of(point));
                }
                token = p.next_token;
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(true)
    }
}

/// Each table's copies in a fan-in destination are asked of AWS in one hour of the day however
/// the ledger accounts for them (a hash of the table, not of the slice): a copy deleted after it
/// was recorded as made is found within a day, and the lookups are spread over the day's passes.
fn verifies_now<P: RouterPorts>(ctx: &RouteCtx<'_, P>, resource: &str) -> bool {
    use chrono::Timelike;
    let hour = u64::from(ctx.ports.now().hour());
    (relay_core::stable_hash::fnv1a(resource) >> 32) % 24 == hour
}

impl Sources<'_> {
    /// How a start of this point's hop knows the destination: listed for its table by this pass
    /// (every table, on a route that lists the whole window), or not (a fan-in lookup spared).
    fn listing_of(&self, point: &PointView) -> Listing {
        let listed = !self.by_resource
            || point
                .resource_arn
                .as_ref()
                .is_some_and(|r| self.looked.contains(r));
        match listed {
            true => Listing::NotHeld,
            false => Listing::Unread,
        }
    }

    /// Does the ledger account for every completed point of `resource` on this page, so that
    /// asking the destination would change nothing this pass? A hop recorded as made (its copy's
    /// ARN known, and tagged where the policy tags) is taken as held; a claim or a started job
    /// still fresh is in flight, and its record says so (a lookup that found no copy would do the
    /// same). Anything else (no record: a plan's copy may be there; a failure; a stale claim or
    /// job; a copy not yet tagged) is asked of the destination as before.
    fn accounted<P: RouterPorts>(
        &mut self,
        ctx: &RouteCtx<'_, P>,
        resource: &str,
        points: &[PointView],
        known: &tags::Records,
    ) -> bool {
        let now = ctx.ports.now();
        let mut made = Vec::new();
        for point in points.iter().filter(|p| ctx.takes(p) && is_held(p)) {
            if point.resource_arn.as_deref() != Some(resource) {
                continue;
            }
            let original = Original::new(resource.to_string(), point.creation_date);
            let hop = HopKey::new(original, ctx.to.arn.to_string());
            let Some(Some(record)) = known.get(&hop) else {
                return false;
            };
            let tagged = record.tagged_at.is_some() || !ctx.policy.tags.tags_anything();
            let fresh =
                |at: Option<DateTime<Utc>>, within: Duration| at.is_some_and(|t| t >= now - within);
            match (&record.state, &record.destination_recovery_point_arn) {
                (HopState::Completed, Some(copy)) if tagged => {
                    made.push((point, copy, record.updated_at))
                }
                (HopState::Started, _)
                    if fresh(Some(record.updated_at), ctx.config.started_check_after) => {}
                (HopState::Claimed, _)
                    if fresh(record.claimed_at, ctx.config.router.stale_claim_after) => {}
                _ => return false,
            }
        }
        let copies = self.held.entry(resource.to_string()).or_default();
        for (point, copy, at) in made {
            let held = HeldCopy {
                arn: copy.clone(),
                completed: Some(at),
            };
            copies.insert(point.creation_date.timestamp_millis(), held);
        }
        true
    }
}

/// The operation a missing destination's error carries: its incident is the vault's, not the
/// route's (a central vault of an organisation has thousands of routes into it).
pub(super) const DESTINATION_MISSING: &str = "DescribeBackupVault(destination)";

/// The destination's lock bounds every lifecycle of the route; a vault that cannot be described
/// is planned without it (StartCopyJob gives AWS's own answer).
async fn destination_lock<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    report: &mut ReconcileReport,
) -> Result<Observed, PortError> {
    let mut observed = Observed::default();
    match ctx.ports.vault_lock(&ctx.to.arn).await {
        Ok(Some(lock)) => {
            observed.vault_locks.insert(ctx.to.arn.clone(), lock);
        }
        Ok(None) => {}
        Err(e) if e.kind.is_transient() || e.is_account_denied() => return Err(e),
        // No destination: every route into it fails alike, one incident for the vault.
        Err(e) if e.kind == ErrorKind::NotFound => {
            return Err(PortError {
                operation: DESTINATION_MISSING,
                ..e
            })
        }
        Err(e) => report.errors.push(format!("{}: {e}", ctx.route.name())),
    }
    Ok(observed)
}

/// Every page of the window's source points, each examined; `Some(cursor)` when the run must
/// stop and resume there.
async fn walk_sources<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    window: &Window,
    mut token: Option<String>,
    sources: &mut Sources<'_>,
    tags: &mut BTreeMap<String, Tags>,
    budget: RunBudget,
    report: &mut ReconcileReport,
) -> Result<Option<Cursor>, PortError> {
    let mut sources_read = 0;
    loop {
        if budget.exhausted(report.pages, ctx.ports.instant()) {
            // A run that began on this window must read at least one page of sources, or the
            // window is too big: without this a window that fills the budget recurs forever.
            if !(window.fresh && sources_read == 0) {
                return Ok(Some(window.at(token, window.minutes)));
            }
            if window.minutes > MIN_WINDOW_MINUTES {
                let half = (window.minutes / 2).max(MIN_WINDOW_MINUTES);
                return Ok(Some(window.at(None, half)));
            }
        }
        sources_read += 1;
        let page_token = token.clone();
        let query = window.query(token, ctx.config.page_size);
        let p = page(ctx.ports, &ctx.from.arn, query, report).await?;
        note_newest(ctx, &p.items, report);
        // A fan-in route reads the page's ledger records first: what they account for is not
        // asked of the destination, and the tag repair's candidates are among them.
        let known = match sources.by_resource {
            true => Some(tags::prefetch_all(ctx, &p.items, report).await),
            false => None,
        };
        let looked_up = sources.look_up(ctx, window, &p.items, known.as_ref(), budget, report);
        if !looked_up.await? {
            return Ok(Some(window.at(page_token, window.minutes)));
        }
        let records = match known {
            Some(records) => records,
            None => tags::prefetch(ctx, &p.items, &sources.held, report).await,
        };
        for point in p.items.iter().filter(|p| ctx.takes(p)) {
            if budget.past_deadline(ctx.ports.instant()) {
                // This page again next run: what was done here is found done then.
                return Ok(Some(window.at(page_token, window.minutes)));
            }
            report.points_scanned += 1;
            let held = &sources.held;
            let known = (held, sources.listing_of(point));
            let examined = examine(ctx, point, known, sources.observed, &records, tags, report);
            if let Err(e) = examined.await {
                point_failed(ctx.ports, ctx.route, point, &e, report).await;
            }
        }
        token = p.next_token;
        match &token {
            None => return Ok(None),
            Some(_) => {
                let here = window.at(token.clone(), window.minutes);
                save(ctx.ports, &here, report).await?;
            }
        }
    }
}

/// The newest backup seen in the source vault: a vault whose backups had failed works again.
fn note_newest<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    points: &[PointView],
    report: &mut ReconcileReport,
) {
    if let Some(newest) = points.iter().map(|p| p.creation_date).max() {
        let seen = report
            .newest_in
            .entry(ctx.from.arn.to_string())
            .or_insert(newest);
        *seen = (*seen).max(newest);
    }
}

/// One point's failure stays with that point: the run goes on with the next.
pub(super) async fn point_failed<P: RouterPorts>(
    ports: &P,
    route: &Route,
    point: &PointView,
    e: &PortError,
    report: &mut ReconcileReport,
) {
    report.errors.push(format!(
        "{} {}: {e}",
        route.name(),
        point.recovery_point_arn
    ));
    if e.is_account_denied() {
        account_denied(ports, e, report).await;
    }
}

/// The destination's COMPLETED points in a window; `Err((token, minutes))` when the run must stop
/// and resume there.
#[allow(clippy::type_complexity)]
pub(super) async fn held_in<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    window: &Window,
    budget: RunBudget,
    report: &mut ReconcileReport,
) -> Result<Result<Held, (Option<String>, i64)>, PortError> {
    let mut held = Held::new();
    let mut to_token = None;
    loop {
        if budget.exhausted(report.pages, ctx.ports.instant()) {
            if !window.fresh {
                return Ok(Err((None, window.minutes)));
            }
            if window.minutes > MIN_WINDOW_MINUTES {
                // Its source walk starts over in the smaller window.
                return Ok(Err((None, (window.minutes / 2).max(MIN_WINDOW_MINUTES))));
            }
            // The smallest window is finished past the budget, so every run makes progress.
        }
        let query = window.query(to_token, ctx.config.page_size);
        let p = page(ctx.ports, &ctx.to.arn, query, report).await?;
        for point in p.items.into_iter().filter(is_held) {
            if let Some(resource) = point.resource_arn.clone() {
                let at = point.creation_date.timestamp_millis();
                held.entry(resource)
                    .or_default()
                    .insert(at, HeldCopy::of(point));
            }
        }
        to_token = p.next_token;
        if to_token.is_none() {
            return Ok(Ok(held));
        }
    }
}

/// Only a COMPLETED copy counts as held (PARTIAL, EXPIRED, DELETING do not).
pub(super) fn is_held(point: &PointView) -> bool {
    point
        .status
        .as_deref()
        .is_none_or(|s| matches!(s, "COMPLETED" | "AVAILABLE"))
}
