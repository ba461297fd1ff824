import type { Metadata, Viewport } from 'next';

import { LanguageProvider } from '@/components/LanguageProvider';

import './globals.css';

export const metadata: Metadata = {
  title: 'Gatebell',
  description: 'Visitor at the gate: approve or reject from a notification.',
  manifest: '/manifest.webmanifest',
  // iOS reads its Home Screen icon and standalone mode from these, not from the manifest alone.
  appleWebApp: { capable: true, title: 'Gatebell', statusBarStyle: 'default' },
  icons: { icon: { url: '/icon.svg', type: 'image/svg+xml' }, apple: '/apple-touch-icon.png' },
};

export const viewport: Viewport = { width: 'device-width', initialScale: 1, themeColor: '#1f4f7a' };

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    // English in the export; the LanguageProvider sets the chosen language on the client.
    <html lang="en">
      <body>
        <LanguageProvider>{children}</LanguageProvider>
      </body>
    </html>
  );
}
