import { defineMessages } from '../define';

export default defineMessages(
  {
    // ---- a panel's status pill (PanelStatus)
    statusIdle: 'not loaded',
    statusLoading: 'loading…',
    statusRunning: 'running…',
    statusReady: 'ready',
    statusDone: 'done',
    statusError: 'error',
    // ---- flags
    yes: 'yes',
    no: 'no',
  },
  {
    statusIdle: '未加载',
    statusLoading: '加载中…',
    statusRunning: '运行中…',
    statusReady: '就绪',
    statusDone: '完成',
    statusError: '出错',
    yes: '是',
    no: '否',
  },
);
