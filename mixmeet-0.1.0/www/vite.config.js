import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the client with the API proxied to a local mixmeetd.
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  server: { proxy: { '/api': process.env.MIXMEET_URL || 'http://127.0.0.1:8080' } },
  test: { environment: 'node', include: ['test/**/*.test.js'] },
});
