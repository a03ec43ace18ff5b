"""Alert channels: what failed, where, the observed value and a few failing rows, sent to every
configured channel: a Slack-compatible webhook, email over SMTP, and always the JSON-lines alert log.

Each alert has a key (the failure it is about); an alert whose key is already in the log is not
sent again, so a sensor that sees the same failed check twice alerts once.
"""

from __future__ import annotations

import json
import smtplib
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage

from bps_pipeline.config import Settings


@dataclass
class Alert:
    kind: str  # check_failed | check_warning | run_failed | file_quarantined | source_stale
    key: str
    title: str
    where: str
    observed: str
    severity: str = "ERROR"
    failing_rows: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    data_docs: str | None = None

    def text(self) -> str:
        lines = [f"[{self.severity}] {self.title}", f"where: {self.where}", f"observed: {self.observed}"]
        if self.failing_rows:
            lines.append("failing rows: " + json.dumps(self.failing_rows[:5], default=str))
        if self.data_docs:
            lines.append(f"data docs: {self.data_docs}")
        return "\n".join(lines)


def already_sent(settings: Settings, key: str) -> bool:
    path = settings.alert_log_path
    if not path.exists():
        return False
    with open(path) as fh:
        return any(json.loads(line).get("key") == key for line in fh if line.strip())


def send_alert(settings: Settings, alert: Alert) -> bool:
    """Send to every channel unless this failure was already alerted; True when sent."""
    if already_sent(settings, alert.key):
        return False
    delivered: dict[str, str] = {}
    if settings.webhook_url:
        delivered["webhook"] = _deliver(lambda: _post_webhook(settings.webhook_url, alert))
    if settings.smtp_host and settings.alert_email_to:
        delivered["email"] = _deliver(lambda: _send_email(settings, alert))
    entry = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **asdict(alert), "delivered": delivered}
    settings.alert_log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(settings.alert_log_path, "a") as fh:
        fh.write(json.dumps(entry, default=str) + "\n")
    return True


def _deliver(send) -> str:
    try:
        send()
        return "ok"
    except Exception as err:  # one broken channel must not stop the others or the log
        return f"failed: {type(err).__name__}: {err}"


def _post_webhook(url: str, alert: Alert) -> None:
    body = json.dumps({"text": alert.text(), "attachments": [{"fields": [
        {"title": "where", "value": alert.where}, {"title": "observed", "value": alert.observed}]}],
        "bps_alert": asdict(alert)}, default=str).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def _send_email(settings: Settings, alert: Alert) -> None:
    msg = EmailMessage()
    msg["Subject"] = f"[bps-pipeline] {alert.title}"
    msg["From"] = settings.alert_email_from
    msg["To"] = settings.alert_email_to
    msg.set_content(alert.text())
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)
