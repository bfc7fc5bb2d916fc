"""Which gateway carries each channel, chosen from the settings in one place (issue 10 §1)."""

from __future__ import annotations

from app.services.gateways import ChannelGateways, FileGateway, MessageGateway
from app.services.sms import HttpSmsGateway
from app.services.smtp import SmtpConfig, SmtpGateway
from app.settings import Settings


def gateways_from_settings(settings: Settings) -> ChannelGateways:
    """SMTP for email and the HTTP provider for SMS where configured, else the file gateway.

    With nothing configured (the embedded default) every message lands in the data
    folder's notifications file, so ``make run`` shows what would have been sent.
    """
    file_gateway = FileGateway(settings.resolved_data_dir / settings.notification_outbox_file)
    email: MessageGateway = file_gateway
    sms: MessageGateway = file_gateway
    smtp_url = settings.smtp_url.get_secret_value()
    if smtp_url:
        if not settings.smtp_from:
            raise ValueError("POSCRM_SMTP_FROM is required with POSCRM_SMTP_URL")
        email = SmtpGateway(
            SmtpConfig.from_url(smtp_url),
            settings.smtp_from,
            timeout=settings.smtp_timeout_seconds,
            connections=settings.smtp_connections,
            idle_seconds=settings.smtp_idle_seconds,
        )
    if settings.sms_gateway_url:
        if not settings.sms_gateway_url.startswith(("http://", "https://")):
            raise ValueError("POSCRM_SMS_GATEWAY_URL must be an http:// or https:// URL")
        sms = HttpSmsGateway(
            settings.sms_gateway_url,
            settings.sms_gateway_token.get_secret_value(),
            timeout=settings.sms_gateway_timeout_seconds,
        )
    return ChannelGateways(email=email, sms=sms)
