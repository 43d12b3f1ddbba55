/* schema.c: the SQL that creates and upgrades herald's database.
 *
 * Kept apart from store.c so the schema reads as one document. The
 * comments are inside the CREATE statements on purpose: SQLite stores that
 * text, so `sqlite3 herald.db .schema` shows an operator the same notes.
 * Times are Unix milliseconds; keys are the "scheme://authority/path"
 * strings of learner/pagekey.h; client tokens are the recorder's 16-byte
 * keyed hashes, never addresses. */
#include "store/store.h"

/* Each migration runs inside one transaction and ends by recording its
 * own version, so a crash mid-migration leaves the previous version. */
static const char schema_v1[] =
    "CREATE TABLE schema_version( -- exactly one row\n"
    "  version INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE pages( -- pages by exact key and by template key\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  key TEXT NOT NULL UNIQUE,\n"
    "  is_template INTEGER NOT NULL, -- 1: a template that differs from\n"
    "                                -- the page key it came from\n"
    "  first_seen INTEGER NOT NULL,\n"
    "  last_seen INTEGER NOT NULL,\n"
    "  visits INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE resources( -- subresources, as last seen in full (200)\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  key TEXT NOT NULL UNIQUE,\n"
    "  content_type TEXT,\n"
    "  dest INTEGER, -- enum obs_dest\n"
    "  bytes INTEGER,\n"
    "  first_seen INTEGER,\n"
    "  last_seen INTEGER\n"
    ");\n"
    "CREATE TABLE visits( -- one page load; trimmed to the newest N\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  page_id INTEGER NOT NULL REFERENCES pages,\n"
    "  template_id INTEGER NOT NULL REFERENCES pages, -- = page_id when\n"
    "                                                 -- nothing folds\n"
    "  class TEXT NOT NULL CHECK(class IN ('desktop','mobile')),\n"
    "  client_token BLOB NOT NULL,\n"
    "  started_at INTEGER NOT NULL, -- page request arrival\n"
    "  load_ms INTEGER,\n"
    "  bytes INTEGER, -- page and attributed responses\n"
    "  holdout INTEGER NOT NULL DEFAULT 0 -- 1: served without push/hints\n"
    ");\n"
    "CREATE INDEX visits_started_at ON visits(started_at);\n"
    "CREATE INDEX visits_page_id ON visits(page_id);\n"
    "CREATE TABLE visit_requests( -- requests attributed to a visit\n"
    "  visit_id INTEGER NOT NULL REFERENCES visits ON DELETE CASCADE,\n"
    "  seq INTEGER NOT NULL, -- attribution order, from 0\n"
    "  resource_id INTEGER NOT NULL REFERENCES resources,\n"
    "  method TEXT,\n"
    "  status INTEGER,\n"
    "  bytes INTEGER,\n"
    "  content_type TEXT,\n"
    "  dest INTEGER, -- enum obs_dest\n"
    "  delay_ms INTEGER, -- after the page request started\n"
    "  depth INTEGER, -- 1: referred by the page\n"
    "  parent_seq INTEGER, -- seq of the referrer; NULL = the page\n"
    "  pushable INTEGER,\n"
    "  already_had INTEGER, -- 304 to a conditional request\n"
    "  pushed INTEGER,\n"
    "  hinted INTEGER,\n"
    "  PRIMARY KEY(visit_id, seq)\n"
    ");\n"
    "CREATE TABLE aggregates( -- decayed counts, kept by the learner\n"
    "  page_id INTEGER NOT NULL,\n"
    "  class TEXT NOT NULL,\n"
    "  resource_id INTEGER NOT NULL,\n"
    "  k REAL NOT NULL, -- visits that fetched the resource\n"
    "  n REAL NOT NULL, -- visits of the page\n"
    "  clients INTEGER,\n"
    "  median_delay_ms INTEGER,\n"
    "  depth INTEGER,\n"
    "  bytes INTEGER,\n"
    "  pushable INTEGER,\n"
    "  last_visit INTEGER,\n"
    "  PRIMARY KEY(page_id, class, resource_id)\n"
    ");\n"
    "CREATE TABLE aggregate_clients( -- for distinct-client counts\n"
    "  page_id INTEGER NOT NULL,\n"
    "  class TEXT NOT NULL,\n"
    "  resource_id INTEGER NOT NULL,\n"
    "  client_token BLOB NOT NULL,\n"
    "  PRIMARY KEY(page_id, class, resource_id, client_token)\n"
    ");\n"
    "CREATE TABLE rules( -- what the learner publishes to the proxy\n"
    "  page_id INTEGER NOT NULL,\n"
    "  class TEXT NOT NULL,\n"
    "  resource_id INTEGER NOT NULL,\n"
    "  ord INTEGER, -- order of pushes/hints for the page\n"
    "  channel TEXT CHECK(channel IN ('push','hint','none')),\n"
    "  confidence REAL, -- k / n\n"
    "  wilson REAL, -- Wilson lower bound of k / n\n"
    "  n REAL,\n"
    "  k REAL,\n"
    "  clients INTEGER,\n"
    "  bytes INTEGER,\n"
    "  state TEXT CHECK(state IN ('learned','pinned','blocked')),\n"
    "  updated_at INTEGER,\n"
    "  PRIMARY KEY(page_id, class, resource_id)\n"
    ");\n"
    "CREATE TABLE settings( -- thresholds set with heraldctl\n"
    "  scope TEXT NOT NULL, -- 'global' or a route/page key\n"
    "  name TEXT NOT NULL,\n"
    "  value TEXT NOT NULL,\n"
    "  PRIMARY KEY(scope, name)\n"
    ");\n"
    "CREATE TABLE overrides( -- operator decisions that beat the learner\n"
    "  page_key TEXT NOT NULL,\n"
    "  resource_key TEXT NOT NULL,\n"
    "  action TEXT NOT NULL CHECK(action IN ('pin','block')),\n"
    "  PRIMARY KEY(page_key, resource_key)\n"
    ");\n"
    "CREATE TABLE push_outcomes( -- what became of pushes and hints\n"
    "  page_id INTEGER NOT NULL,\n"
    "  class TEXT NOT NULL,\n"
    "  resource_id INTEGER NOT NULL,\n"
    "  promised INTEGER DEFAULT 0, -- PUSH_PROMISEs sent\n"
    "  completed INTEGER DEFAULT 0, -- pushes sent to the end\n"
    "  cancelled INTEGER DEFAULT 0, -- reset by the client\n"
    "  wasted INTEGER DEFAULT 0, -- pushed, but not used\n"
    "  hinted INTEGER DEFAULT 0, -- sent in a 103 or Link\n"
    "  hinted_used INTEGER DEFAULT 0, -- hinted, then requested\n"
    "  updated_at INTEGER,\n"
    "  PRIMARY KEY(page_id, class, resource_id)\n"
    ");\n"
    "INSERT INTO schema_version(version) VALUES(1);\n";

/* v2: what herald sent ahead of each visit (the holdout arm compares
 * against the treated ones) and the bytes of pushes, for heraldctl stats. */
static const char schema_v2[] =
    "ALTER TABLE visits ADD COLUMN delivery TEXT NOT NULL DEFAULT 'none'\n"
    "  CHECK(delivery IN ('none','hints','push','holdout'));\n"
    "  -- none: no rules (or mode off/shadow); holdout: held out of delivery\n"
    "CREATE INDEX visits_delivery ON visits(delivery, started_at);\n"
    "ALTER TABLE push_outcomes ADD COLUMN pushed_bytes INTEGER DEFAULT 0;\n"
    "  -- body bytes of the pushes sent\n"
    "ALTER TABLE visit_requests ADD COLUMN delivered INTEGER DEFAULT 0;\n"
    "  -- 1: not requested; herald pushed it whole instead (depth 0)\n"
    "UPDATE schema_version SET version = 2;\n";

/* v3: distinct clients are networks, not address and User-Agent pairs
 * (a new User-Agent made a new client token, so one address could pass
 * for many clients). Visits recorded before carry no network: the
 * learner counts all of them as one, so they cannot satisfy min_clients
 * on their own and rules rest on visits whose networks are known. */
static const char schema_v3[] =
    "ALTER TABLE visits ADD COLUMN network BLOB;\n"
    "  -- keyed token of the client's network (IPv4 /24, IPv6 /48 by\n"
    "  -- default): what min_clients counts; NULL: recorded before v3\n"
    "UPDATE schema_version SET version = 3;\n";

/* v4: exact URLs, evidence and levels (learner/learn.h).
 *   - Resource keys now carry their query byte for byte. Visits recorded
 *     before hold query-less keys that name no URL a browser requested,
 *     so they are no longer replayed (exact_urls = 0), and what was
 *     learned from them (rules, aggregates) is dropped: the learner
 *     starts afresh from the visits recorded from now on.
 *   - visit_named: what herald named ahead of each visit, censored as
 *     evidence; visit_requests.urgency: the browser's RFC 9218 urgency.
 *   - rules: the level that decided a rule, its rank (what the page needs
 *     first), and what the proxy and heraldctl show of it.
 *   - settings: the one budget (budget, max_resources) becomes a budget
 *     per channel, with the same values. */
static const char schema_v4[] =
    "ALTER TABLE visits ADD COLUMN exact_urls INTEGER NOT NULL DEFAULT 0;\n"
    "  -- 1: resource keys with their query; 0: older, not replayed\n"
    "ALTER TABLE visit_requests ADD COLUMN urgency INTEGER;\n"
    "  -- RFC 9218 urgency (u=) the browser sent; NULL: no priority field\n"
    "CREATE TABLE visit_named( -- what herald named ahead of the page\n"
    "  visit_id INTEGER NOT NULL REFERENCES visits ON DELETE CASCADE,\n"
    "  resource_id INTEGER NOT NULL REFERENCES resources,\n"
    "  channel TEXT NOT NULL CHECK(channel IN ('hint','push')), -- in its\n"
    "                                       -- 103, or as a push promise\n"
    "  PRIMARY KEY(visit_id, resource_id)\n"
    ");\n"
    "ALTER TABLE rules ADD COLUMN level TEXT NOT NULL DEFAULT 'page'\n"
    "  CHECK(level IN ('page','template','section','site'));\n"
    "  -- the level whose counts decided the rule\n"
    "ALTER TABLE rules ADD COLUMN rank TEXT NOT NULL DEFAULT 'other'\n"
    "  CHECK(rank IN ('style','script','font','other'));\n"
    "  -- what the page needs first: blocking styles, sync scripts, fonts\n"
    "ALTER TABLE rules ADD COLUMN dest INTEGER;\n"
    "ALTER TABLE rules ADD COLUMN depth INTEGER;\n"
    "ALTER TABLE rules ADD COLUMN delay_ms INTEGER;\n"
    "ALTER TABLE rules ADD COLUMN urgency INTEGER;\n"
    "ALTER TABLE rules ADD COLUMN pushable INTEGER;\n"
    "INSERT OR REPLACE INTO settings(scope, name, value)\n"
    "  SELECT scope, 'hint_budget', value FROM settings WHERE name = 'budget'\n"
    "  UNION ALL SELECT scope, 'push_budget', value FROM settings\n"
    "  WHERE name = 'budget'\n"
    "  UNION ALL SELECT scope, 'hint_max_resources', value FROM settings\n"
    "  WHERE name = 'max_resources'\n"
    "  UNION ALL SELECT scope, 'push_max_resources', value FROM settings\n"
    "  WHERE name = 'max_resources';\n"
    "  -- one budget became one per channel\n"
    "DELETE FROM settings WHERE name IN ('budget', 'max_resources');\n"
    "DELETE FROM rules;\n"
    "DELETE FROM aggregates;\n"
    "DELETE FROM aggregate_clients;\n"
    "UPDATE schema_version SET version = 4;\n";

/* v5: what a backend declared for its pages (a Link: rel=preload field
 * on a page's response, or its own 103), a prior for the learner
 * (learner/learn.h, DECLARED RESOURCES), kept with each visit so a
 * replay sees it. Nothing older changes. */
static const char schema_v5[] =
    "CREATE TABLE visit_declared( -- what the backend declared\n"
    "  visit_id INTEGER NOT NULL REFERENCES visits ON DELETE CASCADE,\n"
    "  resource_id INTEGER NOT NULL REFERENCES resources,\n"
    "  dest INTEGER, -- enum obs_dest, from the link's as=\n"
    "  source TEXT NOT NULL CHECK(source IN ('link','103','both')),\n"
    "    -- a Link field of the page's response, the backend's own 103\n"
    "  PRIMARY KEY(visit_id, resource_id)\n"
    ");\n"
    "UPDATE schema_version SET version = 5;\n";

/* store_migrations[i] takes a database from version i to version i + 1.
 * A new version appends a migration here and bumps STORE_SCHEMA_VERSION;
 * a shipped migration is never edited, since databases already ran it. */
const char *const store_migrations[STORE_SCHEMA_VERSION] = {
    schema_v1, schema_v2, schema_v3, schema_v4, schema_v5};
