-- Notifications (topic-based Subscriptions, R5 Backport IG).
--
-- The outbox: the seq of every version written (AuditEvents aside), inserted by the one write
-- path in the same transaction as the version, so no committed change can be missed and a
-- refused one leaves nothing. The dispatcher deletes rows once it has turned them into events.
CREATE TABLE change_outbox (
    seq BIGINT PRIMARY KEY
);

-- The one dispatcher of the cluster holds this lease (any node may take it once it expires).
CREATE TABLE notification_dispatcher (
    slot        BIGINT PRIMARY KEY,
    holder      TEXT,
    lease_until BIGINT NOT NULL
);
INSERT INTO notification_dispatcher (slot, holder, lease_until) VALUES (0, NULL, 0);

-- Each Subscription as the dispatcher last saw it (status, channel, the resource itself) plus
-- where its delivery stands: the last event number given, the last one delivered, failures in
-- a row, when to try next, and the delivery worker's lease.
CREATE TABLE subscription_state (
    id           TEXT PRIMARY KEY,
    status       TEXT NOT NULL,      -- requested, active, error, off
    channel      TEXT NOT NULL,      -- rest-hook, websocket, email
    resource     TEXT NOT NULL,      -- the Subscription JSON
    heartbeat    BIGINT NOT NULL,      -- microseconds between heartbeats; 0: none
    last_number  BIGINT NOT NULL,
    delivered    BIGINT NOT NULL,
    failures     BIGINT NOT NULL,
    next_attempt BIGINT NOT NULL,      -- epoch microseconds
    last_sent    BIGINT NOT NULL,
    lease_holder TEXT,
    lease_until  BIGINT NOT NULL,
    error        TEXT
);
CREATE INDEX subscription_state_due ON subscription_state (next_attempt);

-- The events of each subscription, numbered from 1 without gaps (for delivery and $events).
CREATE TABLE subscription_event (
    subscription TEXT NOT NULL,
    number       BIGINT NOT NULL,
    res_type     TEXT NOT NULL,
    res_id       TEXT NOT NULL,
    version      BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (subscription, number)
);
