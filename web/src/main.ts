import { createApp } from 'vue';
import App from './App.vue';
import { router } from './router';
import { locale } from './i18n';
import { startLive } from './live/store';
import './theme';
import './style.css';

document.documentElement.lang = locale.value;
createApp(App).use(router).mount('#app');
startLive();
