-- The cases database as `create_all` made it before migrations (commit d7a0820).
CREATE TABLE case_history (
	id INTEGER NOT NULL, 
	case_pk INTEGER NOT NULL, 
	stage VARCHAR(64) NOT NULL, 
	at DATETIME NOT NULL, 
	note TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(case_pk) REFERENCES cases (id) ON DELETE CASCADE
);
CREATE TABLE case_items (
	id INTEGER NOT NULL, 
	case_pk INTEGER NOT NULL, 
	item_group VARCHAR(16) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	note TEXT, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(case_pk) REFERENCES cases (id) ON DELETE CASCADE
);
CREATE TABLE cases (
	id INTEGER NOT NULL, 
	case_id VARCHAR(24) NOT NULL, 
	city_code VARCHAR(6) NOT NULL, 
	day VARCHAR(8) NOT NULL, 
	seq INTEGER NOT NULL, 
	idempotency_key VARCHAR(128) NOT NULL, 
	request_fingerprint VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	stage VARCHAR(64) NOT NULL, 
	stages JSON NOT NULL, 
	process JSON NOT NULL, 
	deadline DATE NOT NULL, 
	deadline_basis VARCHAR(32) NOT NULL, 
	zero_investment BOOLEAN NOT NULL, 
	customer_type VARCHAR(16) NOT NULL, 
	requested_customer_type VARCHAR(16) NOT NULL, 
	capacity_kw FLOAT NOT NULL, 
	name_enc TEXT NOT NULL, 
	id_number_enc TEXT NOT NULL, 
	id_fingerprint VARCHAR(64) NOT NULL, 
	phone_enc TEXT NOT NULL, 
	province VARCHAR(32) NOT NULL, 
	city VARCHAR(32) NOT NULL, 
	district VARCHAR(32) NOT NULL, 
	address_detail TEXT NOT NULL, 
	area_code VARCHAR(6) NOT NULL, 
	address_text TEXT NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	sender_id VARCHAR(128) NOT NULL, 
	locale VARCHAR(8) NOT NULL, 
	identity_document VARCHAR(32) NOT NULL, 
	property_document VARCHAR(32) NOT NULL, 
	consent_confirmed_at DATETIME NOT NULL, 
	registry_consent BOOLEAN NOT NULL, 
	esign_consent BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_case_city_day_seq UNIQUE (city_code, day, seq), 
	UNIQUE (case_id), 
	UNIQUE (idempotency_key)
);
CREATE TABLE events (
	id INTEGER NOT NULL, 
	type VARCHAR(32) NOT NULL, 
	case_id VARCHAR(24) NOT NULL, 
	at DATETIME NOT NULL, 
	payload JSON NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE registry_people (
	id INTEGER NOT NULL, 
	id_fingerprint VARCHAR(64) NOT NULL, 
	name_enc TEXT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (id_fingerprint)
);
CREATE TABLE registry_properties (
	id INTEGER NOT NULL, 
	owner_fingerprint VARCHAR(64) NOT NULL, 
	address_key TEXT NOT NULL, 
	certificate_no VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_registry_property UNIQUE (owner_fingerprint, address_key)
);
CREATE TABLE verify_attempts (
	id INTEGER NOT NULL, 
	case_pk INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	ok BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(case_pk) REFERENCES cases (id) ON DELETE CASCADE
);
CREATE TABLE webhook_attempts (
	id INTEGER NOT NULL, 
	delivery_id INTEGER NOT NULL, 
	event_id INTEGER NOT NULL, 
	url TEXT NOT NULL, 
	attempt INTEGER NOT NULL, 
	status_code INTEGER, 
	error TEXT, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(delivery_id) REFERENCES webhook_deliveries (id)
);
CREATE TABLE webhook_deliveries (
	id INTEGER NOT NULL, 
	event_id INTEGER NOT NULL, 
	url TEXT NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at DATETIME NOT NULL, 
	last_error TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(event_id) REFERENCES events (id)
);
CREATE INDEX ix_case_history_case_pk ON case_history (case_pk);
CREATE INDEX ix_case_items_case_pk ON case_items (case_pk);
CREATE INDEX ix_cases_channel_sender ON cases (channel, sender_id);
CREATE INDEX ix_cases_id_fingerprint ON cases (id_fingerprint);
CREATE INDEX ix_events_case_id ON events (case_id);
CREATE INDEX ix_registry_properties_owner_fingerprint ON registry_properties (owner_fingerprint);
CREATE INDEX ix_verify_attempts_case_pk ON verify_attempts (case_pk);
CREATE INDEX ix_webhook_attempts_event_id ON webhook_attempts (event_id);
CREATE INDEX ix_webhook_deliveries_event_id ON webhook_deliveries (event_id);
CREATE INDEX ix_webhook_due ON webhook_deliveries (state, next_attempt_at);
