"""Staff case work in the gateway: time-limit warnings (预警), resident activity for reminders
(催办), fallback questions and the service reports (服务线上评价)."""
