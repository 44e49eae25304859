-- Hand-written DuckDB query for the shipped b2b-default model (version 3), the
-- reference that bench/rescore.py times leadgate's compiled query against.
-- Written the way a careful analyst would for this data: ASCII text (lower()
-- instead of Unicode case folding), one pass over the events with FILTERed
-- aggregates, no join before the aggregation, and the model's arithmetic
-- (decay, caps, compensated sums) so that the results are identical.
-- Placeholders: {events} {leads} {accounts} (file paths), {as_of_us} (epoch
-- microseconds), {free_mail} (the free-mail domain list as SQL literals).
WITH ev AS (
  SELECT
    lead_id,
    type,
    epoch_us(ts) AS ts_us,
    CAST({as_of_us} - epoch_us(ts) AS DOUBLE) / 1000000.0 / 86400.0 AS age,
    url,
    asset_type
  FROM read_parquet('{events}')
  WHERE epoch_us(ts) <= {as_of_us}
    AND type IN ('email.opened', 'email.clicked', 'page.viewed', 'content.downloaded',
                 'webinar.attended', 'email.unsubscribed', 'form.submitted')
),
agg AS (
  SELECT
    lead_id,
    max_by(ts_us, ts_us, 3) FILTER (WHERE type = 'email.opened') AS opens,
    fsum(15.0 * pow(0.5, age / 30.0)) FILTER (WHERE type = 'email.clicked') AS clicks,
    fsum(25.0 * pow(0.5, age / 14.0))
      FILTER (WHERE type = 'page.viewed' AND contains(lower(url), '/pricing')) AS pricing,
    fsum(20.0 * pow(0.5, age / 30.0))
      FILTER (WHERE type = 'content.downloaded' AND lower(asset_type) = 'case_study') AS case_study,
    fsum(30.0 * pow(0.5, age / 30.0)) FILTER (WHERE type = 'webinar.attended') AS webinar,
    count(*) FILTER (WHERE type = 'email.unsubscribed') AS unsubscribed,
    count(*) FILTER (WHERE type IN ('email.opened', 'email.clicked', 'form.submitted')
                     AND age <= 90.0) AS recent_touches
  FROM ev
  GROUP BY lead_id
),
lead_scores AS (
  SELECT
    l.lead_id,
    l.account_id,
    list_aggregate([
      CASE WHEN a.employees BETWEEN 50 AND 500 THEN 20.0 ELSE 0.0 END,
      CASE WHEN lower(a.country) IN ('cz', 'sk') THEN 15.0 ELSE 0.0 END,
      CASE WHEN lower(a.industry) = 'manufacturing' THEN 15.0 ELSE 0.0 END,
      CASE WHEN lower(l.seniority) IN ('director', 'vp', 'c-level') THEN 10.0 ELSE 0.0 END,
      CASE WHEN lower(trim(string_split(l.email, '@')[-1])) IN ({free_mail}) THEN -20.0
           ELSE 0.0 END
    ], 'fsum') AS fit,
    least(list_aggregate([
      coalesce(list_aggregate(
        list_transform(g.opens, lambda t: 10.0 * pow(0.5, (CAST({as_of_us} - t AS DOUBLE)
                                                     / 1000000.0 / 86400.0) / 30.0)),
        'fsum'), 0.0),
      coalesce(g.clicks, 0.0),
      coalesce(g.pricing, 0.0),
      coalesce(g.case_study, 0.0),
      coalesce(g.webinar, 0.0),
      CAST(coalesce(g.unsubscribed, 0) AS DOUBLE) * -50.0
    ], 'fsum'), 150.0) AS engagement,
    coalesce(g.recent_touches, 0) >= 1 AS recently_touched
  FROM read_parquet('{leads}') AS l
  LEFT JOIN read_parquet('{accounts}') AS a USING (account_id)
  LEFT JOIN agg AS g USING (lead_id)
)
SELECT
  lead_id,
  fit,
  engagement,
  CASE WHEN account_id IS NULL THEN engagement
       ELSE fsum(engagement) OVER (PARTITION BY account_id) END AS account_engagement,
  CASE WHEN fit >= 40 THEN 'A' WHEN fit >= 25 THEN 'B' WHEN fit >= 10 THEN 'C' ELSE 'D' END
    AS grade,
  engagement >= 60 AND fit >= 25 AND recently_touched AS mql
FROM lead_scores
ORDER BY lead_id
