import type { MetadataRoute } from 'next';

// A web app manifest: installed to the Home Screen (standalone), Gatebell can get push on iOS
// and iPadOS 16.4+, where Safari tabs cannot. Served as /manifest.webmanifest.
export const dynamic = 'force-static';

export default function manifest(): MetadataRoute.Manifest {
  return {
    name: 'Gatebell',
    short_name: 'Gatebell',
    description: 'Visitor at the gate: approve or reject from a notification.',
    start_url: '/',
    scope: '/',
    display: 'standalone',
    background_color: '#f4f6f8',
    theme_color: '#1f4f7a',
    icons: [
      { src: '/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
      { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
      { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
    ],
  };
}
