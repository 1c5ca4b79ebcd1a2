-- The app database as `create_all` made it before migrations (commit d7a0820).
CREATE TABLE case_subscriptions (
	id INTEGER NOT NULL, 
	case_id VARCHAR(64) NOT NULL, 
	sender_id VARCHAR(128) NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_case_subscription UNIQUE (case_id, sender_id)
);
CREATE TABLE chat_senders (
	sender_id VARCHAR(128) NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	locale VARCHAR(8) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (sender_id)
);
CREATE TABLE followed_cases (
	case_id VARCHAR(64) NOT NULL, 
	stage VARCHAR(64), 
	waits_on VARCHAR(16), 
	status VARCHAR(16) NOT NULL, 
	deadline DATE, 
	locale VARCHAR(8), 
	stage_since DATETIME NOT NULL, 
	last_event_id INTEGER NOT NULL, 
	PRIMARY KEY (case_id)
);
CREATE TABLE knowledge_answers (
	id INTEGER NOT NULL, 
	entry_id VARCHAR(64), 
	region VARCHAR(32), 
	zh_hans TEXT NOT NULL, 
	zh_hant TEXT NOT NULL, 
	en TEXT NOT NULL, 
	source TEXT NOT NULL, 
	source_ref VARCHAR(32) NOT NULL, 
	valid_from DATE NOT NULL, 
	verified BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(entry_id) REFERENCES knowledge_entries (id) ON DELETE CASCADE
);
CREATE TABLE knowledge_entries (
	id VARCHAR(64) NOT NULL, 
	category VARCHAR(32) NOT NULL, 
	scope VARCHAR(16) NOT NULL, 
	title_zh_hans TEXT NOT NULL, 
	title_zh_hant TEXT NOT NULL, 
	title_en TEXT NOT NULL, 
	position INTEGER NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE knowledge_meta (
	"key" VARCHAR(64) NOT NULL, 
	value TEXT NOT NULL, 
	updated_at VARCHAR(32) NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE knowledge_questions (
	id INTEGER NOT NULL, 
	entry_id VARCHAR(64), 
	locale VARCHAR(8) NOT NULL, 
	text TEXT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(entry_id) REFERENCES knowledge_entries (id) ON DELETE CASCADE
);
CREATE TABLE notifier_cursors (
	name VARCHAR(32) NOT NULL, 
	value INTEGER NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (name)
);
CREATE TABLE outbox (
	seq INTEGER NOT NULL, 
	sender_id VARCHAR(128) NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	payload TEXT NOT NULL, 
	dedupe_key VARCHAR(160), 
	created_at DATETIME NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at DATETIME, 
	last_error VARCHAR(200), 
	delivered_at DATETIME, 
	PRIMARY KEY (seq), 
	UNIQUE (dedupe_key)
);
CREATE TABLE pending_applications (
	id INTEGER NOT NULL, 
	idempotency_key VARCHAR(128) NOT NULL, 
	sender_id VARCHAR(128) NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	locale VARCHAR(8) NOT NULL, 
	sealed_body TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at DATETIME NOT NULL, 
	last_error VARCHAR(200), 
	case_id VARCHAR(40), 
	created_at DATETIME NOT NULL, 
	delivered_at DATETIME, 
	PRIMARY KEY (id), 
	UNIQUE (idempotency_key)
);
CREATE TABLE tg_callback_tokens (
	token VARCHAR(16) NOT NULL, 
	payload TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (token)
);
CREATE TABLE tg_pending_links (
	chat_id BIGINT NOT NULL, 
	case_id VARCHAR(64) NOT NULL, 
	tries INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (chat_id)
);
CREATE TABLE tg_seen_updates (
	update_id BIGINT NOT NULL, 
	seen_at DATETIME NOT NULL, 
	PRIMARY KEY (update_id)
);
CREATE INDEX ix_case_subscriptions_case_id ON case_subscriptions (case_id);
CREATE INDEX ix_knowledge_answers_entry_id ON knowledge_answers (entry_id);
CREATE INDEX ix_knowledge_entries_category ON knowledge_entries (category);
CREATE INDEX ix_knowledge_questions_entry_id ON knowledge_questions (entry_id);
CREATE INDEX ix_outbox_channel ON outbox (channel);
CREATE INDEX ix_outbox_sender_id ON outbox (sender_id);
CREATE INDEX ix_pending_applications_sender_id ON pending_applications (sender_id);
CREATE INDEX ix_pending_applications_status ON pending_applications (status);
CREATE INDEX ix_tg_callback_tokens_created_at ON tg_callback_tokens (created_at);
CREATE INDEX ix_tg_seen_updates_seen_at ON tg_seen_updates (seen_at);
