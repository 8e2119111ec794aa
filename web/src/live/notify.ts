// Browser notifications for new alerts: opt-in (a click asks for the permission), remembered in
// localStorage, only while a dashboard tab is open.

import { reactive } from 'vue';

const kStorageKey = 'gatherd.notifications';

export type NotifyPermission = NotificationPermission | 'unsupported';

function currentPermission(): NotifyPermission {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

function stored(): boolean {
  try {
    return localStorage.getItem(kStorageKey) === 'on';
  } catch {
    return false;
  }
}

function remember(on: boolean): void {
  try {
    localStorage.setItem(kStorageKey, on ? 'on' : 'off');
  } catch {
    // private mode: the choice lasts for this page only
  }
}

export const notifyState = reactive({
  permission: currentPermission(),
  enabled: stored() && currentPermission() === 'granted',
});

/** Asks for the permission (when not yet given) and turns notifications on if granted. */
export async function enableNotifications(): Promise<boolean> {
  if (typeof Notification === 'undefined') return false;
  const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
  notifyState.permission = permission;
  notifyState.enabled = permission === 'granted';
  remember(notifyState.enabled);
  return notifyState.enabled;
}

export function disableNotifications(): void {
  notifyState.enabled = false;
  remember(false);
}

/** Shows a notification when they are on; `tag` keeps one per alert. */
export function notify(title: string, body: string, tag: string): boolean {
  if (!notifyState.enabled || currentPermission() !== 'granted') return false;
  try {
    new Notification(title, { body, tag });
    return true;
  } catch {
    return false;
  }
}
