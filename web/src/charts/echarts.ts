// ECharts with only what the dashboard draws (lines and bars on a grid), so the chunk stays
// small; the heatmap, ratio bars and shares are plain HTML instead of pie/heatmap/visualMap.

import { init, use } from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer]);

export { init };
