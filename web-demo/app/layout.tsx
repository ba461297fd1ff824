import type { Metadata, Viewport } from 'next';

import './globals.css';

export const metadata: Metadata = {
  title: 'Gatebell',
  description: 'Visitor at the gate: approve or reject from a notification.',
};

export const viewport: Viewport = { width: 'device-width', initialScale: 1, themeColor: '#1f4f7a' };

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
