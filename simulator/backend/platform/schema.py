"""The platform's tables, versioned by `Store` (PRAGMA user_version = how many were applied).

Personal data (citizen ID, name, birth date) is the registry's and is only ever read back through
the purpose filter of `Platform.card_view`; every other table refers to a card by its number.
"""

MIGRATIONS = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE cards (
        card_number TEXT PRIMARY KEY, citizen_id TEXT NOT NULL, name TEXT NOT NULL, birth_date TEXT NOT NULL,
        region TEXT NOT NULL, status TEXT NOT NULL, financial_active INTEGER NOT NULL DEFAULT 0,
        superseded_by TEXT REFERENCES cards(card_number), issued_at TEXT NOT NULL);
    CREATE INDEX cards_by_citizen ON cards(citizen_id);
    CREATE TABLE card_history (
        id INTEGER PRIMARY KEY, card_number TEXT NOT NULL REFERENCES cards(card_number), action TEXT NOT NULL,
        from_status TEXT, to_status TEXT NOT NULL, at TEXT NOT NULL);
    CREATE TABLE departments (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, purpose TEXT NOT NULL, secret BLOB NOT NULL, callback_url TEXT);
    CREATE TABLE bindings (
        department TEXT NOT NULL REFERENCES departments(id), card_number TEXT NOT NULL REFERENCES cards(card_number),
        PRIMARY KEY (department, card_number));
    CREATE TABLE nonces (department TEXT NOT NULL, nonce TEXT NOT NULL, until INTEGER NOT NULL,
        PRIMARY KEY (department, nonce));
    CREATE TABLE blacklist_changes (
        version INTEGER PRIMARY KEY, card_number TEXT NOT NULL, listed INTEGER NOT NULL, at TEXT NOT NULL);
    CREATE TABLE callbacks (
        event_id TEXT NOT NULL, department TEXT NOT NULL REFERENCES departments(id), body TEXT NOT NULL,
        created INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending', last_status INTEGER, PRIMARY KEY (event_id, department));
    CREATE INDEX callbacks_due ON callbacks(state, next_at);
    CREATE TABLE usage_events (
        department TEXT NOT NULL, event_id TEXT NOT NULL, card_number TEXT NOT NULL, kind TEXT NOT NULL,
        at TEXT NOT NULL, site TEXT NOT NULL, PRIMARY KEY (department, event_id));
    CREATE TABLE ecode_seen (code_id BLOB PRIMARY KEY, until INTEGER NOT NULL);
    CREATE TABLE ecode_users (
        card_number TEXT NOT NULL, kind TEXT NOT NULL, private_key BLOB NOT NULL, authorisation BLOB NOT NULL,
        PRIMARY KEY (card_number, kind))
    """,
    # the identifiers terminals read from a card's chip (卡识别码, the purse's application serial):
    # what a gate asks about and what the blacklist for offline terminals lists
    """
    CREATE TABLE chips (chip TEXT PRIMARY KEY, card_number TEXT NOT NULL REFERENCES cards(card_number))
    """,
    # every signed request and every scanned e-code deletes the entries past their window first: by
    # index, not by a scan of all kept in the last minutes (a table as long as the load is high)
    """
    CREATE INDEX nonces_by_until ON nonces(until);
    CREATE INDEX ecode_seen_by_until ON ecode_seen(until)
    """,
    # the same two logs without rowids: an entry is its key, so each entry is written to one b-tree
    # and its expiry index instead of a table, its key's index and the expiry index (a page less
    # written per entry, at every request, and a third less for the checkpoints to copy)
    """
    CREATE TABLE nonces_by_key (department TEXT NOT NULL, nonce TEXT NOT NULL, until INTEGER NOT NULL,
        PRIMARY KEY (department, nonce)) WITHOUT ROWID;
    INSERT INTO nonces_by_key SELECT department, nonce, until FROM nonces;
    DROP TABLE nonces;
    ALTER TABLE nonces_by_key RENAME TO nonces;
    CREATE INDEX nonces_by_until ON nonces(until);
    CREATE TABLE ecode_seen_by_key (code_id BLOB PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO ecode_seen_by_key SELECT code_id, until FROM ecode_seen;
    DROP TABLE ecode_seen;
    ALTER TABLE ecode_seen_by_key RENAME TO ecode_seen;
    CREATE INDEX ecode_seen_by_until ON ecode_seen(until)
    """,
    # each holder's current card (platform.yaml lifecycle `live`): one person one card is kept by
    # it; a store made before it takes each holder's card issued last
    """
    CREATE TABLE holders (citizen_id TEXT PRIMARY KEY, card_number TEXT NOT NULL REFERENCES cards(card_number))
        WITHOUT ROWID;
    INSERT INTO holders SELECT citizen_id, card_number FROM cards AS c
        WHERE rowid = (SELECT max(rowid) FROM cards WHERE citizen_id = c.citizen_id)
    """,
)
