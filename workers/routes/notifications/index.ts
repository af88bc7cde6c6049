import type { App } from "../../app.ts";
import * as deleteDevice from "./delete-device.ts";
import * as getSettings from "./get-settings.ts";
import * as listDevices from "./list-devices.ts";
import * as listNotifications from "./list-notifications.ts";
import * as putSettings from "./put-settings.ts";
import * as registerDevice from "./register-device.ts";

/** The caller's own notification settings, devices and delivery history, under /v1/me. */
export function registerNotificationRoutes(app: App) {
	getSettings.register(app);
	putSettings.register(app);
	listDevices.register(app);
	registerDevice.register(app);
	deleteDevice.register(app);
	listNotifications.register(app);
}
