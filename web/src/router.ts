import { createRouter, createWebHashHistory } from 'vue-router';
import OverviewView from './views/OverviewView.vue';

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', name: 'overview', component: OverviewView },
    { path: '/stats', name: 'stats', component: () => import('./views/StatsView.vue') },
    { path: '/invocations', name: 'invocations', component: () => import('./views/InvocationsView.vue') },
    { path: '/sources', name: 'sources', component: () => import('./views/SourcesView.vue') },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
});
