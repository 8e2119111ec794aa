// What an alert says on the dashboard (the webhook sink words its own messages).

import type { Alert } from '../api/types';
import { formatDateTime, formatInteger, formatUsd } from '../format/format';
import { t } from '../i18n';

function detail(a: Alert, name: string): string {
  const v = a.details[name];
  return v === null || v === undefined ? '' : String(v);
}

function amount(a: Alert, name: string, locale: string): string {
  const v = Number(a.details[name] ?? 0);
  return a.details.unit === 'count' ? formatInteger(v, locale) : formatUsd(v, 2, locale);
}

/** The kind of alert, e.g. "Session expired". */
export function alertTitle(a: Alert): string {
  if (a.rule === 'quota') return t(a.subject.endsWith(':forecast') ? 'alerts.rule.forecast' : 'alerts.rule.quota');
  const key = `alerts.rule.${a.rule}`;
  const text = t(key);
  return text === key ? a.rule : text;
}

/** One line of facts. */
export function alertDetail(a: Alert, locale: string, timeZone: string): string {
  switch (a.rule) {
    case 'auth':
      return t('alerts.detail.auth', { source: a.source });
    case 'failures':
      return t('alerts.detail.failures', {
        failed: detail(a, 'failed'),
        calls: detail(a, 'calls'),
        minutes: Math.round(Number(a.details.windowMs ?? 0) / 60_000),
      });
    case 'source_down':
      return t('alerts.detail.sourceDown', { windows: detail(a, 'windows'), outcome: detail(a, 'outcome') });
    case 'gap':
      return t('alerts.detail.gap', {
        from: formatDateTime(detail(a, 'gapFrom'), timeZone),
        to: formatDateTime(detail(a, 'gapTo'), timeZone),
      });
    case 'quota':
      if (a.subject.endsWith(':forecast')) {
        return t('alerts.detail.forecast', {
          time: formatDateTime(detail(a, 'runsOutAt'), timeZone),
          deadline: formatDateTime(detail(a, 'deadlineAt'), timeZone),
        });
      }
      return t('alerts.detail.quota', { remaining: amount(a, 'remaining', locale), limit: amount(a, 'limit', locale) });
    case 'plan_expiry':
      return t('alerts.detail.planExpiry', { time: formatDateTime(detail(a, 'expiresAt'), timeZone) });
    default:
      return '';
  }
}
