/** Every module of the message catalog, by namespace. */
import app from './messages/app';
import common from './messages/common';
import compare from './messages/compare';
import data from './messages/data';
import device from './messages/device';
import exportMessages from './messages/export';
import fields from './messages/fields';
import method from './messages/method';
import model from './messages/model';
import runs from './messages/runs';
import sideBySide from './messages/side-by-side';
import training from './messages/training';

export const CATALOG = {
  app,
  common,
  compare,
  data,
  device,
  export: exportMessages,
  fields,
  method,
  model,
  runs,
  sideBySide,
  training,
} as const;

export type Namespace = keyof typeof CATALOG;
