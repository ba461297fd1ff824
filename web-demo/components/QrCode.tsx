'use client';

import QRCode from 'qrcode';
import { useEffect, useState } from 'react';

/** The QR code of `value`, as an inline SVG. */
export default function QrCode({ value, label }: { value: string; label: string }) {
  const [svg, setSvg] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    QRCode.toString(value, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' }).then(
      (s) => live && setSvg(s),
      () => live && setSvg(null),
    );
    return () => {
      live = false;
    };
  }, [value]);
  return (
    <div className="qr" role="img" aria-label={label} data-qr={value}
      dangerouslySetInnerHTML={svg ? { __html: svg } : undefined} />
  );
}
